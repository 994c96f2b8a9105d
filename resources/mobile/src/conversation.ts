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
// A decision is never forgotten while the conversation lives: memory is bounded by the
// number of payment requests it admits (MAX_PAYMENT_REQUESTS), not by time; past it a
// new request is refused with RATE_LIMITED and replays of admitted ones are still answered.

import { QrlinkError, type ErrorCode } from "./errors";
import { type Envelope, make, PAYMENT_TYPES, type Payload, toJson } from "./messages";

/** Payment requests one conversation admits, each remembered with its decision. */
export const MAX_PAYMENT_REQUESTS = 1000;

/** Every payment message acted on, and the reply it got, for the conversation's life.
 * Only messages acted on are recorded, so junk ids take no room. */
export class ReplyLog {
  private readonly replies = new Map<string, string | null>();

  record(messageId: string): void {
    if (!this.replies.has(messageId)) this.replies.set(messageId, null);
  }

  setReply(messageId: string, reply: string): void {
    if (this.replies.has(messageId)) this.replies.set(messageId, reply);
  }

  has(messageId: string): boolean {
    return this.replies.has(messageId);
  }

  reply(messageId: string): string | null {
    return this.replies.get(messageId) ?? null;
  }

  get size(): number {
    return this.replies.size;
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
  readonly replies = new ReplyLog();
  readonly payments = new Map<string, Payment>();
  readonly processed: string[] = []; // messageIds acted upon, in order

  constructor(readonly maxRequests = MAX_PAYMENT_REQUESTS) {}

  private error(code: ErrorCode, message: string, ref: Envelope | null, nowMs: number): Action {
    const payload: Payload = { code, message };
    if (ref !== null) payload["refMessageId"] = ref.messageId;
    return { kind: "send", envelope: make("error", payload, nowMs) };
  }

  receive(env: Envelope, nowMs: number): Action[] {
    if (PAYMENT_TYPES.has(env.type)) {
      if (!this.verified) return [this.error("NOT_VERIFIED", "payment messages are refused before verification", env, nowMs)];
      if (this.replies.has(env.messageId)) {
        const out: Action[] = [{ kind: "duplicate", messageId: env.messageId }];
        const reply = this.replies.reply(env.messageId);
        if (reply !== null) out.push({ kind: "send", envelope: JSON.parse(reply) as Envelope, raw: reply });
        return out;
      }
    }
    switch (env.type) {
      case "payment_request":
        return this.onRequest(env, nowMs);
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

  private onRequest(env: Envelope, nowMs: number): Action[] {
    if (this.payments.size >= this.maxRequests) {
      // Nothing about it is kept: memory stays bounded, and a copy is refused again.
      return [this.error("RATE_LIMITED", `this conversation has reached its ${this.maxRequests} payment requests; start a new one`, env, nowMs)];
    }
    this.replies.record(env.messageId);
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
    if (payment.acknowledgment !== null) return [{ kind: "duplicate", messageId: env.messageId }]; // the first stands
    this.replies.record(env.messageId);
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
    this.replies.setReply(requestId, raw);
    return [{ kind: "send", envelope: env, raw }];
  }

  /** Responses the cashier has not acknowledged: replayed after a new pairing. */
  unanswered(): Envelope[] {
    return [...this.payments.values()].filter((p) => p.response !== null && p.acknowledgment === null).map((p) => p.response as Envelope);
  }
}
