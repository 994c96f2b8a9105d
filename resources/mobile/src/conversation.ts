// The customer's half of the payment conversation (protocol.md, Payments):
//
//   cashier (offerer)                       customer (this page)
//     payment_request  -------------------->  (the customer decides)
//     (acknowledged automatically) <--------  payment_response
//     payment_acknowledgment -------------->
//
// Pure: `receive` takes a parsed envelope and returns actions. It outlives one data
// channel, so a new pairing replays an unacknowledged response under its original
// messageId, and a duplicate request gets the identical reply, never a second decision.

import { QrlinkError, type ErrorCode } from "./errors";
import { type Envelope, make, PAYMENT_TYPES, type Payload, toJson } from "./messages";

/** Recently seen messageIds and the reply each got; bounded in count and in time. */
export class DedupWindow {
  private readonly seen = new Map<string, { at: number; reply: string | null }>();
  constructor(private readonly maxEntries = 1024, private readonly maxAgeMs = 600_000) {}

  private prune(nowMs: number): void {
    for (const [key, entry] of this.seen) {
      if (this.seen.size > this.maxEntries || nowMs - entry.at > this.maxAgeMs) this.seen.delete(key);
      else break;
    }
  }

  /** [seen before, the reply recorded for it]. Records the id when it is new. */
  check(messageId: string, nowMs: number): [boolean, string | null] {
    this.prune(nowMs);
    const entry = this.seen.get(messageId);
    if (entry !== undefined) return [true, entry.reply];
    this.seen.set(messageId, { at: nowMs, reply: null });
    this.prune(nowMs);
    return [false, null];
  }

  recordReply(messageId: string, reply: string): void {
    const entry = this.seen.get(messageId);
    if (entry !== undefined) entry.reply = reply;
  }

  get size(): number {
    return this.seen.size;
  }
}

export type PaymentStatus = "requested" | "approved" | "declined";

export interface Payment {
  request: Envelope;
  status: PaymentStatus;
  response: Envelope | null;
  acknowledgment: Envelope | null;
}

export type Action =
  | { kind: "send"; envelope: Envelope; raw?: string }
  | { kind: "request"; payment: Payment } // show it, ask the customer
  | { kind: "acknowledged"; payment: Payment }
  | { kind: "duplicate"; messageId: string }
  | { kind: "peerError"; code: string; message: string; refMessageId: string | null };

export class Conversation {
  verified = false;
  readonly dedup = new DedupWindow();
  readonly payments = new Map<string, Payment>();
  readonly processed: string[] = []; // messageIds acted upon, in order

  private error(code: ErrorCode, message: string, ref: Envelope | null, nowMs: number): Action {
    const payload: Payload = { code, message };
    if (ref !== null) payload["refMessageId"] = ref.messageId;
    return { kind: "send", envelope: make("error", payload, nowMs) };
  }

  receive(env: Envelope, nowMs: number): Action[] {
    if (PAYMENT_TYPES.has(env.type)) {
      if (!this.verified) return [this.error("NOT_VERIFIED", "payment messages are refused before verification", env, nowMs)];
      const [seen, reply] = this.dedup.check(env.messageId, nowMs);
      if (seen) {
        const out: Action[] = [{ kind: "duplicate", messageId: env.messageId }];
        if (reply !== null) out.push({ kind: "send", envelope: JSON.parse(reply) as Envelope, raw: reply });
        return out;
      }
    }
    switch (env.type) {
      case "payment_request":
        return this.onRequest(env);
      case "payment_acknowledgment":
        return this.onAck(env, nowMs);
      case "payment_response":
        return [this.error("MESSAGE_INVALID", "payment_response is not expected by the answerer", env, nowMs)];
      case "error":
        return [{
          kind: "peerError",
          code: env.payload["code"] as string,
          message: env.payload["message"] as string,
          refMessageId: (env.payload["refMessageId"] as string | undefined) ?? null,
        }];
      default:
        return []; // handshake, ping and pong belong to the channel
    }
  }

  private onRequest(env: Envelope): Action[] {
    this.processed.push(env.messageId);
    const payment: Payment = { request: env, status: "requested", response: null, acknowledgment: null };
    this.payments.set(env.messageId, payment);
    return [{ kind: "request", payment }];
  }

  private onAck(env: Envelope, nowMs: number): Action[] {
    const payment = this.payments.get(env.payload["requestId"] as string);
    if (payment === undefined || payment.response === null) {
      return [this.error("MESSAGE_INVALID", "payment_acknowledgment is not expected by the answerer", env, nowMs)];
    }
    this.processed.push(env.messageId);
    payment.acknowledgment = env;
    return [{ kind: "acknowledged", payment }];
  }

  /** The customer's decision; a second tap changes nothing. */
  respond(requestId: string, approve: boolean, nowMs: number, reason?: string): Action[] {
    const payment = this.payments.get(requestId);
    if (payment === undefined) throw new QrlinkError("INVALID_ARGUMENT", `no payment request ${requestId}`);
    if (payment.response !== null) return [];
    const payload: Payload = { requestId, status: approve ? "approved" : "declined" };
    if (reason) payload["reason"] = reason;
    const env = make("payment_response", payload, nowMs);
    payment.response = env;
    payment.status = approve ? "approved" : "declined";
    const raw = toJson(env);
    this.dedup.recordReply(requestId, raw);
    return [{ kind: "send", envelope: env, raw }];
  }

  /** Responses the cashier has not acknowledged: replayed after a new pairing. */
  unanswered(): Envelope[] {
    return [...this.payments.values()].filter((p) => p.response !== null && p.acknowledgment === null).map((p) => p.response as Envelope);
  }
}
