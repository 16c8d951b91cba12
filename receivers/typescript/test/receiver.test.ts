/**
 * The kit against real deliveries: a running Hookline (`.venv/bin/hookline serve` on a
 * free port, a temporary SQLite database) delivers to node http servers on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { Webhook } from "standardwebhooks";

import { createApp } from "../examples/express.js";
import {
  type Delivery,
  EVENT_TYPES,
  type EventPayloads,
  type EventType,
  VerificationError,
  verify,
} from "../src/index.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const HOOKLINE = process.env.HOOKLINE_BIN ?? join(REPO, ".venv/bin/hookline");

interface Received {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A node http server on 127.0.0.1 that records every request and answers 200. */
class Recorder {
  readonly requests: Received[] = [];
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = req.url ?? "/";
      const at = url.indexOf("?");
      this.requests.push({
        method: req.method ?? "",
        path: at === -1 ? url : url.slice(0, at),
        query: at === -1 ? "" : url.slice(at + 1),
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      res.end("ok");
    });
  });

  async start(): Promise<number> {
    await new Promise<void>((done) => this.server.listen(0, "127.0.0.1", done));
    return (this.server.address() as AddressInfo).port;
  }

  async waitFor(path: string, timeoutMs = 15_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.requests.find((r) => r.path === path);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no delivery to ${path}`);
      await new Promise((done) => setTimeout(done, 50));
    }
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

/** `hookline serve` on a free port with a temporary SQLite database. */
class Hookline {
  readonly dir = mkdtempSync(join(tmpdir(), "hookline-ts-"));
  readonly env = {
    ...process.env,
    HOOKLINE_DATABASE_URL: `sqlite:///${join(this.dir, "hookline.db")}`,
    HOOKLINE_ALLOW_PRIVATE_URLS: "true",
    HOOKLINE_POLL_INTERVAL: "0.2",
  };
  baseUrl = "";
  private process?: ChildProcess;

  async start(): Promise<void> {
    const port = await freePort();
    this.baseUrl = `http://127.0.0.1:${port}`;
    const log = openSync(join(this.dir, "server.log"), "a");
    this.process = spawn(HOOKLINE, ["serve", "--host", "127.0.0.1", "--port", String(port)], {
      env: this.env,
      cwd: this.dir,
      stdio: ["ignore", log, log],
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${this.baseUrl}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      if (this.process.exitCode !== null || Date.now() > deadline) {
        throw new Error(`hookline did not start:\n${readFileSync(join(this.dir, "server.log"), "utf8")}`);
      }
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  /** `hookline keys create`: the key is the last line printed. */
  createKey(workspace: string, role: "integrator" | "publisher"): string {
    const printed = execFileSync(HOOKLINE, ["keys", "create", "--workspace", workspace, "--role", role], {
      env: this.env,
      cwd: this.dir,
      encoding: "utf8",
    });
    return printed.trim().split("\n").at(-1) ?? "";
  }

  async call(key: string, method: string, path: string, body?: unknown): Promise<any> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { "X-API-KEY": key, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  }

  async stop(): Promise<void> {
    if (this.process && this.process.exitCode === null) {
      const exited = new Promise((done) => this.process?.once("exit", done));
      this.process.kill("SIGTERM");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Signs content as Hookline would at another time, so only the timestamp is wrong. */
function signedAt(secret: string, received: Received, content: string, seconds: number) {
  const id = String(received.headers["webhook-id"]);
  return {
    ...received.headers,
    "webhook-timestamp": String(seconds),
    "webhook-signature": new Webhook(secret).sign(id, new Date(seconds * 1000), content),
  };
}

// Published by Hookline itself, never by a publisher key.
const OPERATIONAL: ReadonlySet<EventType> = new Set(["webhook_disabled", "delivery_failed"]);

describe("@hookline/receiver against a running Hookline", () => {
  const hookline = new Hookline();
  const recorder = new Recorder();
  let integrator = "";
  let publisher = "";
  let receiverPort = 0;
  let examples: Record<EventType, EventPayloads[EventType]>;

  before(async () => {
    await hookline.start();
    receiverPort = await recorder.start();
    integrator = hookline.createKey("ts-kit", "integrator");
    publisher = hookline.createKey("ts-kit", "publisher");
    const catalog = await hookline.call(integrator, "GET", "/api/event-types");
    // The kit's generated types cover exactly the event types this Hookline serves.
    assert.deepEqual(
      catalog.data.map((e: any) => e.event_type),
      [...EVENT_TYPES],
    );
    examples = Object.fromEntries(catalog.data.map((e: any) => [e.event_type, e.example])) as any;
  });

  after(async () => {
    recorder.close();
    await hookline.stop();
  });

  async function webhook(path: string, eventType: EventType, method: "post" | "get", posting: string) {
    return hookline.call(integrator, "POST", "/api/webhook/create", {
      posting_id: posting,
      url: `http://127.0.0.1:${receiverPort}${path}`,
      event_type: eventType,
      http_method: method,
    });
  }

  async function publish(eventType: EventType, posting: string): Promise<string> {
    const payload = { ...examples[eventType], posting_id: posting };
    const answer = await hookline.call(publisher, "POST", "/api/events", { event_type: eventType, payload });
    return answer.event_id;
  }

  it("verifies a POST of every event type and types its payload", async () => {
    const posting = `posting-post-${Date.now()}`;
    const secrets: Record<string, string> = {};
    for (const eventType of EVENT_TYPES) {
      const created = await webhook(`/post-${eventType}`, eventType, "post", posting);
      secrets[eventType] = created.secret;
      if (OPERATIONAL.has(eventType)) {
        // Hookline publishes these itself; the test endpoint sends the catalog's example.
        await hookline.call(integrator, "POST", `/api/webhook/test/${created.webhook_id}`);
      } else {
        await publish(eventType, posting);
      }
    }
    for (const eventType of EVENT_TYPES) {
      const received = await recorder.waitFor(`/post-${eventType}`);
      const delivery = verify(received.body, received.headers, secrets[eventType]);
      assert.equal(delivery.method, "POST");
      assert.equal(delivery.eventType, eventType);
      assert.equal(delivery.webhookId, received.headers["webhook-id"]);
      if (delivery.method === "POST" && delivery.eventType === "report_available") {
        assert.equal(delivery.payload.agentic_data.web_interview_info?.summary.match_score, 78);
        assert.equal(delivery.payload.interview_data_model.posting_info.title, "Senior Software Engineer");
      }
      if (delivery.method === "POST" && delivery.eventType === "interview_started") {
        assert.equal(delivery.payload.metadata.candidate_name, "Jane Doe");
      }
      if (delivery.method === "POST" && delivery.eventType === "delivery_failed") {
        assert.equal(delivery.payload.attempts, examples.delivery_failed.attempts);
      }
      if (delivery.method === "POST" && !OPERATIONAL.has(eventType)) {
        assert.equal(delivery.payload.posting_id, posting);
      }
    }
  });

  it("verifies a GET: the signed content is the raw query string", async () => {
    const posting = `posting-get-${Date.now()}`;
    const { secret } = await webhook("/get", "interview_completed", "get", posting);
    const eventId = await publish("interview_completed", posting);
    const received = await recorder.waitFor("/get");
    assert.equal(received.method, "GET");

    const delivery = verify(received.query, received.headers, secret);
    assert.equal(delivery.method, "GET");
    assert.deepEqual(delivery.method === "GET" && delivery.notice, {
      event_type: "interview_completed",
      event_id: eventId,
      interview_id: examples.interview_completed.interview_id,
      posting_id: posting,
      timestamp: examples.interview_completed.timestamp,
    });
    // One of several secrets is enough (a rotation, or one receiver for many webhooks).
    assert.equal(verify(received.query, received.headers, ["whsec_AAAA", secret]).method, "GET");

    const tampered = received.query.replace(posting, `${posting}x`);
    assert.throws(() => verify(tampered, received.headers, secret), /No matching signature/);
    const now = Math.floor(Date.now() / 1000);
    const old = signedAt(secret, received, received.query, now - 3600);
    assert.throws(() => verify(received.query, old, secret), /too old/);
    const future = signedAt(secret, received, received.query, now + 3600);
    assert.throws(() => verify(received.query, future, secret), /too new/);
  });

  it("refuses a tampered body, an old timestamp, another secret and an unknown type", async () => {
    const posting = `posting-refuse-${Date.now()}`;
    const { secret } = await webhook("/refuse", "interview_started", "post", posting);
    const other = await webhook("/refuse-other", "interview_started", "post", `${posting}-other`);
    await publish("interview_started", posting);
    const received = await recorder.waitFor("/refuse");
    const body = received.body.toString("utf8");

    const tampered = body.replace("Jane Doe", "John Doe");
    assert.notEqual(tampered, body);
    assert.throws(() => verify(tampered, received.headers, secret), VerificationError);
    assert.throws(() => verify(tampered, received.headers, secret), /No matching signature/);
    const old = signedAt(secret, received, body, Math.floor(Date.now() / 1000) - 3600);
    assert.throws(() => verify(body, old, secret), /too old/);
    assert.throws(() => verify(body, received.headers, other.secret), /No matching signature/);
    const unknown = { ...received.headers, "x-hookline-event-type": "interview_paused" };
    assert.throws(() => verify(body, unknown, secret), /unknown event type/);
    assert.equal(verify(body, received.headers, secret).eventType, "interview_started");
  });

  it("the Express example receives POST and GET deliveries once each", async () => {
    const posting = `posting-express-${Date.now()}`;
    const handled: Delivery[] = [];
    const secrets: string[] = [];
    const app = createApp(secrets, (delivery) => handled.push(delivery));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((done) => server.once("listening", done));
    const port = (server.address() as AddressInfo).port;
    try {
      for (const method of ["post", "get"] as const) {
        const created = await hookline.call(integrator, "POST", "/api/webhook/create", {
          posting_id: posting,
          url: `http://127.0.0.1:${port}/webhooks/hookline`,
          event_type: "report_available",
          http_method: method,
        });
        secrets.push(created.secret);
      }
      const eventId = await publish("report_available", posting);
      const deadline = Date.now() + 15_000;
      while (handled.length < 2 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
      assert.deepEqual(handled.map((d) => d.method).sort(), ["GET", "POST"]);
      const get = handled.find((d) => d.method === "GET");
      assert.equal(get?.method === "GET" && get.notice.event_id, eventId);

      // A redelivery carries the same webhook-id: the example handles it once.
      const event = await hookline.call(integrator, "GET", `/api/events/${eventId}`);
      const first = event.deliveries[0];
      await hookline.call(integrator, "POST", `/api/webhook/redeliver/${first.delivery_id}`);
      const redeliveryDeadline = Date.now() + 15_000;
      for (;;) {
        const state = await hookline.call(integrator, "GET", `/api/events/${eventId}`);
        const again = state.deliveries.find((d: any) => d.delivery_id === first.delivery_id);
        if (again.attempt_count === 2 && again.status === "succeeded") break;
        assert.ok(Date.now() < redeliveryDeadline, "the redelivery did not happen");
        await new Promise((done) => setTimeout(done, 100));
      }
      assert.equal(handled.length, 2);

      const forged = await fetch(`http://127.0.0.1:${port}/webhooks/hookline`, {
        method: "POST",
        headers: {
          "webhook-id": "msg_forged",
          "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
          "webhook-signature": "v1,AAAA",
          "x-hookline-event-type": "report_available",
        },
        body: "{}",
      });
      assert.equal(forged.status, 400);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
