// The payment conversation (protocol.md, Payments), either half of it, as the desktop's
// qrlink_desktop/core/conversation.py:
//
//   merchant (offerer)                      customer (answerer)
//     payment_request  -------------------->  (the customer decides)
//     (acknowledged automatically) <--------  payment_response
//     payment_acknowledgment -------------->
//
// The page is the customer when it answers an offer, and the merchant when it offers
// (phone to phone). Pure: `receive` takes a parsed envelope and returns actions. It
// outlives one data channel, so a new pairing replays what is unanswered under its
// original messageId, and a duplicate gets the identical reply, never a second decision.
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

export type ConversationRole = "offerer" | "answerer";

export type Action =
  | { kind: "send"; envelope: Envelope; raw?: string }
  | { kind: "request"; payment: Payment } // customer: show it, ask the customer
  | { kind: "response"; payment: Payment } // merchant: the customer decided (acknowledged)
  | { kind: "acknowledged"; payment: Payment }
  | { kind: "duplicate"; messageId: string }
  | { kind: "peerError"; code: string; message: string; refMessageId: string | null };

export interface RequestDetails {
  merchant?: string;
  reference?: string;
  description?: string;
}

export class Conversation {
  verified = false;
  // Merchant: the person compared the codes and said they match; only then may a payment
  // be requested (one question, asked in requestPayment).
  private codeConfirmed = false;
  readonly replies = new ReplyLog();
  readonly payments = new Map<string, Payment>();
  readonly processed: string[] = []; // messageIds acted upon, in order

  constructor(
    readonly maxRequests = MAX_PAYMENT_REQUESTS,
    readonly role: ConversationRole = "answerer",
  ) {}

  get confirmed(): boolean {
    return this.codeConfirmed;
  }

  /** Merchant: the codes on both screens match (the person said so). */
  confirmCode(): void {
    if (this.role !== "offerer") throw new QrlinkError("INVALID_ARGUMENT", "only the merchant confirms the code");
    if (!this.verified) throw new QrlinkError("NOT_VERIFIED", "there is no verification code to confirm yet");
    this.codeConfirmed = true;
  }

  /** Merchant: ask for a payment (validated: a known currency, its decimals, above zero). */
  requestPayment(amount: string, currency: string, nowMs: number, details: RequestDetails = {}): Action[] {
    if (this.role !== "offerer") throw new QrlinkError("INVALID_ARGUMENT", "only the merchant requests payments");
    if (!this.verified || !this.codeConfirmed) throw new QrlinkError("NOT_VERIFIED", "the verification code has not been confirmed yet");
    if (this.payments.size >= this.maxRequests) {
      throw new QrlinkError("RATE_LIMITED", `this conversation has reached its ${this.maxRequests} payment requests; start with a new customer`);
    }
    const payload: Payload = { amount, currency };
    for (const key of ["merchant", "reference", "description"] as const) if (details[key]) payload[key] = details[key];
    const env = make("payment_request", payload, nowMs);
    this.payments.set(env.messageId, { request: env, status: "requested", response: null, acknowledgment: null });
    return [{ kind: "send", envelope: env }];
  }

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
        return this.onResponse(env, nowMs);
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

  private wrongRole(env: Envelope, nowMs: number): Action[] {
    return [this.error("MESSAGE_INVALID", `${env.type} is not expected by the ${this.role}`, env, nowMs)];
  }

  private onRequest(env: Envelope, nowMs: number): Action[] {
    if (this.role !== "answerer") return this.wrongRole(env, nowMs);
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

  /** Merchant: the customer's decision, acknowledged at once; a second, different
   * response for a payment decided already gets the first acknowledgment again. */
  private onResponse(env: Envelope, nowMs: number): Action[] {
    const requestId = env.payload["requestId"] as string;
    const payment = this.payments.get(requestId);
    if (this.role !== "offerer" || payment === undefined) return this.wrongRole(env, nowMs);
    if (payment.acknowledgment !== null) {
      const raw = toJson(payment.acknowledgment);
      return [{ kind: "duplicate", messageId: env.messageId }, { kind: "send", envelope: payment.acknowledgment, raw }];
    }
    this.replies.record(env.messageId);
    this.processed.push(env.messageId);
    const status = env.payload["status"] as "approved" | "declined";
    payment.response = env;
    payment.status = status;
    const ack = make("payment_acknowledgment", { requestId, status }, nowMs);
    payment.acknowledgment = ack;
    const raw = toJson(ack);
    this.replies.setReply(env.messageId, raw);
    return [{ kind: "response", payment }, { kind: "send", envelope: ack, raw }];
  }

  private onAck(env: Envelope, nowMs: number): Action[] {
    const payment = this.payments.get(env.payload["requestId"] as string);
    if (this.role !== "answerer" || payment === undefined || payment.response === null) {
      return this.wrongRole(env, nowMs);
    }
    if (payment.acknowledgment !== null) return [{ kind: "duplicate", messageId: env.messageId }]; // the first stands
    this.replies.record(env.messageId);
    this.processed.push(env.messageId);
    payment.acknowledgment = env;
    return [{ kind: "acknowledged", payment }];
  }

  /** The customer's decision; a second tap changes nothing. */
  respond(requestId: string, approve: boolean, nowMs: number, reason?: string): Action[] {
    if (this.role !== "answerer") throw new QrlinkError("INVALID_ARGUMENT", "only the customer decides a payment");
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

  /** What a new pairing replays, oldest first, under the original messageIds: the
   * customer's responses not acknowledged, the merchant's requests not answered. */
  unanswered(): Envelope[] {
    const payments = [...this.payments.values()];
    if (this.role === "offerer") return payments.filter((p) => p.response === null).map((p) => p.request);
    return payments.filter((p) => p.response !== null && p.acknowledgment === null).map((p) => p.response as Envelope);
  }
}
