/**
 * Receive Hookline deliveries: verify the Standard Webhooks signature with the official
 * `standardwebhooks` package and get the typed event.
 *
 *   const delivery = verify(rawBody, req.headers, "whsec_...");          // POST
 *   const delivery = verify(rawQueryString, req.headers, "whsec_...");   // GET
 *
 * A POST's signed content is its raw body; a GET's is the raw query string (what follows
 * "?", undecoded). Types for every event are generated from Hookline's event catalog
 * (src/events.ts).
 */
import { timingSafeEqual } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

import { EVENT_TYPES, type EventPayloads, type EventType } from "./events.js";

export * from "./events.js";

/** How far a delivery's `webhook-timestamp` may be from now: the library's 5 minutes. */
export const TOLERANCE_SECONDS = 5 * 60;

/** The delivery is not authentic, too old or too new, or not a known event. */
export class VerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VerificationError";
  }
}

/** What a GET delivery carries; the whole event is at GET /api/events/{event_id}. */
export interface EventNotice {
  event_type: EventType;
  event_id: string;
  interview_id: string;
  posting_id: string;
  timestamp: number;
}

/** A verified POST delivery: the event type tells the payload's type. */
export type PostDelivery = {
  [K in EventType]: { method: "POST"; webhookId: string; eventType: K; payload: EventPayloads[K] };
}[EventType];

/** A verified GET delivery. */
export interface GetDelivery {
  method: "GET";
  webhookId: string;
  eventType: EventType;
  notice: EventNotice;
}

export type Delivery = PostDelivery | GetDelivery;

/** Node's or Express's `req.headers`, a fetch `Headers`, or a plain object. */
export type HeadersLike =
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** "POST" or "GET"; by default a body starting with "{" is a POST, anything else a GET. */
  method?: "POST" | "GET";
}

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof headers.get === "function") {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(" ") : value;
}

function signatureHeaders(headers: HeadersLike): Record<string, string> {
  const found: Record<string, string> = {};
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    const value = header(headers, name);
    if (!value) throw new VerificationError(`missing the ${name} header`);
    found[name] = value;
  }
  return found;
}

function eventTypeOf(headers: HeadersLike): EventType {
  const raw = header(headers, "x-hookline-event-type") ?? "";
  if (!(EVENT_TYPES as readonly string[]).includes(raw)) {
    throw new VerificationError(`unknown event type ${JSON.stringify(raw)}`);
  }
  return raw as EventType;
}

function asText(content: string | Uint8Array): string {
  return typeof content === "string" ? content : Buffer.from(content).toString("utf8");
}

function checkTimestamp(raw: string): number {
  const sentAt = Number.parseInt(raw, 10);
  if (Number.isNaN(sentAt)) throw new VerificationError("webhook-timestamp is not a unix timestamp");
  const now = Math.floor(Date.now() / 1000);
  if (now - sentAt > TOLERANCE_SECONDS) throw new VerificationError("Message timestamp too old");
  if (sentAt - now > TOLERANCE_SECONDS) throw new VerificationError("Message timestamp too new");
  return sentAt;
}

/** POST: the official verify(), which also JSON-parses the body. */
function verifyPost(body: string, signed: Record<string, string>, secrets: string[]): unknown {
  let failure: unknown;
  for (const secret of secrets) {
    try {
      return new Webhook(secret).verify(body, signed);
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      failure = error;
    }
  }
  throw new VerificationError((failure as Error).message);
}

/** GET: the official verify() would JSON-parse the query string, so compare with the
 * library's sign() in constant time and check the timestamp here. */
function verifyGet(query: string, signed: Record<string, string>, secrets: string[]): void {
  const sentAt = checkTimestamp(signed["webhook-timestamp"]);
  const offered = signed["webhook-signature"].split(" ").map((s) => Buffer.from(s));
  for (const secret of secrets) {
    const expected = Buffer.from(
      new Webhook(secret).sign(signed["webhook-id"], new Date(sentAt * 1000), query),
    );
    if (offered.some((given) => given.length === expected.length && timingSafeEqual(given, expected))) {
      return;
    }
  }
  throw new VerificationError("No matching signature found");
}

function parseNotice(query: string, eventType: EventType): EventNotice {
  const params = new URLSearchParams(query);
  const field = (name: string): string => {
    const value = params.get(name);
    if (value === null) throw new VerificationError(`the query has no ${name}`);
    return value;
  };
  const timestamp = Number(field("timestamp"));
  if (field("event_type") !== eventType) {
    throw new VerificationError("the query's event_type differs from x-hookline-event-type");
  }
  if (!Number.isFinite(timestamp)) throw new VerificationError("the query's timestamp is not a number");
  return {
    event_type: eventType,
    event_id: field("event_id"),
    interview_id: field("interview_id"),
    posting_id: field("posting_id"),
    timestamp,
  };
}

/**
 * Verify a delivery with its secret (or any of several, e.g. around a rotation) and return
 * the typed event. Throws `VerificationError` when the signature does not match, the
 * timestamp is more than 5 minutes away, or the event type is unknown.
 */
export function verify(
  content: string | Uint8Array,
  headers: HeadersLike,
  secret: string | string[],
  options: VerifyOptions = {},
): Delivery {
  const text = asText(content);
  const signed = signatureHeaders(headers);
  const secrets = typeof secret === "string" ? [secret] : secret;
  const eventType = eventTypeOf(headers);
  const method = options.method ?? (text.trimStart().startsWith("{") ? "POST" : "GET");
  const webhookId = signed["webhook-id"];
  if (method === "GET") {
    verifyGet(text, signed, secrets);
    return { method, webhookId, eventType, notice: parseNotice(text, eventType) };
  }
  const payload = verifyPost(text, signed, secrets);
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new VerificationError("the body is not a JSON object");
  }
  return { method, webhookId, eventType, payload } as PostDelivery;
}
