/**
 * An Express receiver for Hookline: verifies every delivery, POST or GET, and handles each
 * one once (delivery is at-least-once; `webhook-id` is the same on every retry).
 *
 *   HOOKLINE_SECRET=whsec_... PORT=9000 node dist/examples/express.js
 */
import { pathToFileURL } from "node:url";

import express, { type Express, type Request, type Response } from "express";

import { type Delivery, VerificationError, verify } from "@hookline/receiver";

export function createApp(secret: string | string[], handle: (delivery: Delivery) => void): Express {
  const app = express();
  const seen = new Set<string>(); // use your database in production

  function receive(content: string | Buffer, req: Request, res: Response): void {
    let delivery: Delivery;
    try {
      delivery = verify(content, req.headers, secret, { method: req.method === "GET" ? "GET" : "POST" });
    } catch (error) {
      if (!(error instanceof VerificationError)) throw error;
      res.status(400).json({ error: error.message }); // Hookline retries, and logs why
      return;
    }
    if (seen.has(delivery.webhookId)) {
      res.json({ duplicate: true });
      return;
    }
    seen.add(delivery.webhookId);
    handle(delivery);
    res.json({ received: true });
  }

  // The signature covers the exact bytes: read the body raw, not through express.json().
  app.post("/webhooks/hookline", express.raw({ type: () => true, limit: "2mb" }), (req, res) => {
    receive(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), req, res);
  });
  // A GET's signed content is the raw query string, exactly as it arrived.
  app.get("/webhooks/hookline", (req, res) => {
    const at = req.originalUrl.indexOf("?");
    receive(at === -1 ? "" : req.originalUrl.slice(at + 1), req, res);
  });
  return app;
}

function describe(delivery: Delivery): string {
  if (delivery.method === "GET") return `${delivery.eventType} ${delivery.notice.event_id}`;
  switch (delivery.eventType) {
    case "interview_started":
      return `started: ${delivery.payload.metadata.candidate_name}`;
    case "interview_completed":
      return `completed: ${delivery.payload.interview_id}`;
    case "report_available":
      return `report: score ${delivery.payload.agentic_data.web_interview_info?.summary.match_score}`;
    case "webhook_disabled":
      return `webhook ${delivery.payload.webhook_id} disabled: ${delivery.payload.reason}`;
    case "delivery_failed":
      return `delivery ${delivery.payload.delivery_id} failed after ${delivery.payload.attempts} attempts`;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const secret = process.env.HOOKLINE_SECRET;
  if (!secret) throw new Error("set HOOKLINE_SECRET to the webhook's whsec_… secret");
  const port = Number(process.env.PORT ?? 9000);
  createApp(secret.split(","), (delivery) => console.log(describe(delivery))).listen(port, "127.0.0.1", () =>
    console.log(`listening on http://127.0.0.1:${port}/webhooks/hookline`),
  );
}
