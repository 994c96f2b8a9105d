// One open data channel: handshake, heartbeat (timers.json: a ping every 3 s, dead after 14 s of
// silence), inactivity close, flood gate, and the conversation's sends with retry
// (protocol.md, Liveness). Every handler is guarded: nothing thrown reaches the browser's
// data-channel callback.

import timerFacts from "../../protocol/timers.json";
import type { Action, Conversation, Payment, RequestDetails } from "./conversation";
import type { ErrorCode } from "./errors";
import { QrlinkError } from "./errors";
import type { Handshake } from "./handshake";
import { type Envelope, make, type MessageType, parse, PAYMENT_TYPES, type Payload, toJson } from "./messages";

export interface ChannelLike {
  readonly readyState: string;
  send(data: string): void;
  close(): void;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: Event) => void) | null;
}

export interface Timers {
  handshakeTimeout: number; // ms
  pingInterval: number;
  deadAfter: number;
  inactivity: number; // 0 = never
  maxRate: number; // messages a second before the peer counts as flooding
  retryDelays: readonly number[]; // ms between send attempts of a payment message
  helloResend: readonly number[]; // ms between repeats of an unanswered hello
}

/** The waits of a retry policy in ms: first, first × factor, … capped, one per retry. */
export function backoff(policy: typeof timerFacts.retry): number[] {
  const { firstDelaySeconds: first, factor, maxDelaySeconds: max, retries } = policy;
  return Array.from({ length: retries }, (_, i) => Math.min(max, first * factor ** i) * 1000);
}

// The figures are resources/protocol/timers.json's, shared with the desktop (each says
// why it is what it is there); tests shorten them.
export const DEFAULT_TIMERS: Timers = {
  handshakeTimeout: timerFacts.handshakeTimeout.seconds * 1000,
  pingInterval: timerFacts.pingInterval.seconds * 1000,
  deadAfter: timerFacts.deadAfter.seconds * 1000,
  inactivity: timerFacts.inactivity.seconds * 1000,
  maxRate: 200,
  retryDelays: backoff(timerFacts.retry),
  helloResend: timerFacts.helloResend.seconds.map((s) => s * 1000),
};

export type LinkEvent =
  | { kind: "verified"; code: string; merchant: string | null }
  | { kind: "request"; payment: Payment }
  | { kind: "response"; payment: Payment }
  | { kind: "acknowledged"; payment: Payment }
  | { kind: "duplicate"; messageId: string }
  | { kind: "peerError"; code: string; message: string }
  | { kind: "error"; code: ErrorCode; message: string }
  | { kind: "rtt"; ms: number }
  | { kind: "closed"; reason: string; failure: QrlinkError | null };

const capitalized = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

export class Link {
  private lastHeard: number;
  private lastActivity: number;
  private lastPing: number;
  private tokens: number;
  private tokensAt: number;
  private floodReported = false;
  private readonly pings = new Map<string, number>();
  private readonly waiting: Envelope[] = []; // payment messages held until verified
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly started: number;
  private resends = 0; // hello repeats so far
  private nextResend: number;
  closed = false;
  rttMs: number | null = null;

  constructor(
    private readonly channel: ChannelLike,
    readonly handshake: Handshake,
    readonly conversation: Conversation,
    private readonly emit: (event: LinkEvent) => void,
    private readonly timers: Timers = DEFAULT_TIMERS,
    private readonly now: () => number = () => performance.now(),
    private readonly wall: () => number = () => Date.now(),
    // Who is at the other end, in the sentences a person reads.
    private readonly peer: string = "the cashier's device",
  ) {
    const t = now();
    this.started = t;
    this.nextResend = t + (timers.helloResend[0] ?? Infinity);
    this.lastHeard = this.lastActivity = this.lastPing = this.tokensAt = t;
    this.tokens = timers.maxRate;
  }

  /** Attach to the channel; `early` holds what arrived before (handled first, in order). */
  start(early: readonly string[] = []): void {
    this.channel.onmessage = (ev) => this.guard(() => this.receive(String(ev.data)));
    this.channel.onclose = () => this.finish(`${capitalized(this.peer)} closed the connection.`, null);
    this.timer = setInterval(() => this.guard(() => this.tick()), Math.min(250, this.timers.pingInterval / 4));
    this.applyHandshake("open", {});
    for (const raw of early) this.guard(() => this.receive(raw));
  }

  close(reason = "Closed."): void {
    this.finish(reason, null);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (exc) {
      this.emit({ kind: "error", code: "MESSAGE_INVALID", message: `a message could not be handled: ${(exc as Error).message}` });
    }
  }

  private finish(reason: string, failure: QrlinkError | null): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    try {
      this.channel.close();
    } catch {
      /* closing already */
    }
    this.emit({ kind: "closed", reason, failure });
  }

  fail(code: ErrorCode, message: string): void {
    if (this.closed) return;
    this.emit({ kind: "error", code, message });
    this.finish(message, new QrlinkError(code, message));
  }

  // --- sending ----------------------------------------------------------------------------

  private sendNow(type: MessageType, payload: Payload): Envelope {
    const env = make(type, payload, this.wall());
    try {
      this.channel.send(toJson(env));
    } catch (exc) {
      // The channel is closing (the heartbeat notices); said, never swallowed.
      this.emit({ kind: "error", code: "MESSAGE_SEND_FAILED", message: `${type} could not be sent: ${(exc as Error).message}` });
    }
    return env;
  }

  /** Payment messages (in order, after verification) and handshake steps: retried 1 s -> 2 s -> 4 s. */
  send(env: Envelope, raw: string = toJson(env), attempt = 0): void {
    if (this.closed) return;
    if (PAYMENT_TYPES.has(env.type) && this.handshake.state !== "verified") {
      this.waiting.push(env);
      return;
    }
    try {
      if (this.channel.readyState !== "open") throw new Error("the data channel is not open");
      this.channel.send(raw);
    } catch {
      const delay = this.timers.retryDelays[attempt];
      if (delay === undefined) {
        const after = PAYMENT_TYPES.has(env.type) ? "; it is sent again after the next pairing" : "";
        this.emit({ kind: "error", code: "MESSAGE_SEND_FAILED", message: `${env.type} could not be sent${after}` });
        return;
      }
      setTimeout(() => this.send(env, raw, attempt + 1), delay);
    }
  }

  respond(requestId: string, approve: boolean): void {
    this.lastActivity = this.now();
    this.run(this.conversation.respond(requestId, approve, this.wall()));
  }

  /** Merchant: ask for a payment; the conversation refuses one before the code is
   * confirmed (NOT_VERIFIED) and an amount its currency cannot have (MESSAGE_INVALID). */
  request(amount: string, currency: string, details: RequestDetails = {}): Payment {
    this.lastActivity = this.now();
    const actions = this.conversation.requestPayment(amount, currency, this.wall(), details);
    this.run(actions);
    const sent = actions.find((a) => a.kind === "send");
    return this.conversation.payments.get((sent as { envelope: Envelope }).envelope.messageId) as Payment;
  }

  /** Tell the other side why this side ends the pairing, then end it. */
  refuse(code: ErrorCode, message: string): void {
    if (this.closed) return;
    this.sendNow("error", { code, message });
    this.fail(code, message);
  }

  // --- receiving --------------------------------------------------------------------------

  private allow(t: number): boolean {
    this.tokens = Math.min(this.timers.maxRate, this.tokens + ((t - this.tokensAt) / 1000) * this.timers.maxRate);
    this.tokensAt = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  receive(raw: string): void {
    if (this.closed) return;
    const t = this.now();
    this.lastHeard = Math.max(this.lastHeard, t);
    if (!this.allow(t)) {
      if (!this.floodReported) {
        this.floodReported = true;
        this.emit({ kind: "error", code: "RATE_LIMITED", message: "the other device is sending too many messages; extra messages are dropped" });
      }
      return;
    }
    let env: Envelope;
    try {
      env = parse(raw);
    } catch (exc) {
      if (!(exc instanceof QrlinkError)) throw exc;
      this.emit({ kind: "error", code: exc.code, message: exc.message });
      this.sendNow("error", { code: exc.code, message: exc.message.slice(0, 500) });
      return;
    }
    if (env.type === "handshake") {
      this.applyHandshake(env.payload["step"] as string, env.payload);
      return;
    }
    if (env.type === "ping") {
      this.sendNow("pong", { pingId: env.messageId });
      return;
    }
    if (env.type === "pong") {
      const sent = this.pings.get(env.payload["pingId"] as string);
      if (sent !== undefined) {
        this.pings.delete(env.payload["pingId"] as string);
        this.rttMs = t - sent;
        this.emit({ kind: "rtt", ms: this.rttMs });
      }
      return;
    }
    this.lastActivity = t;
    this.run(this.conversation.receive(env, this.wall()));
  }

  private run(actions: Action[]): void {
    for (const a of actions) {
      if (a.kind === "send") {
        if (PAYMENT_TYPES.has(a.envelope.type)) this.send(a.envelope, a.raw ?? toJson(a.envelope));
        else this.sendNow(a.envelope.type, a.envelope.payload);
      } else if (a.kind === "request" || a.kind === "response" || a.kind === "acknowledged") {
        this.emit({ kind: a.kind, payment: a.payment });
      } else if (a.kind === "duplicate") {
        this.emit(a);
      } else {
        this.emit({ kind: "peerError", code: a.code, message: a.message });
      }
    }
  }

  // --- handshake --------------------------------------------------------------------------

  private applyHandshake(step: string, payload: Payload): void {
    const hs = this.handshake;
    const before = hs.outputs.length;
    hs.handle(step, payload);
    for (const out of hs.outputs.slice(before)) {
      // A handshake step the browser refuses to send is retried like a payment message
      // (1 s, 2 s, 4 s): a lost step would stall the pairing until its timeout.
      if (out.kind === "send") this.send(make("handshake", out.payload, this.wall()));
      else if (out.kind === "verified") {
        this.conversation.verified = true;
        const merchant = out.peerInfo["merchant"];
        this.emit({ kind: "verified", code: out.code, merchant: typeof merchant === "string" ? merchant : null });
        for (const env of this.waiting.splice(0)) this.send(env);
        for (const env of this.conversation.unanswered()) this.send(env); // replay after a new pairing
      } else {
        if (out.tellPeer) this.sendNow("error", { code: out.code, message: out.message });
        this.fail(out.code, out.message);
      }
    }
  }

  // --- heartbeat --------------------------------------------------------------------------

  private tick(): void {
    if (this.closed) return;
    const t = this.now();
    if (this.handshake.state !== "verified" && t - this.started >= this.timers.handshakeTimeout) {
      this.applyHandshake("timeout", { seconds: this.timers.handshakeTimeout / 1000 });
      return;
    }
    if (this.handshake.state === "hello_sent" && t >= this.nextResend) {
      this.resends += 1;
      this.nextResend = t + (this.timers.helloResend[this.resends] ?? Infinity);
      this.applyHandshake("resend", {});
    }
    if (t - this.lastHeard >= this.timers.deadAfter) {
      this.fail("TIMEOUT", `${this.peer} stopped answering (nothing heard for ${this.timers.deadAfter / 1000} seconds)`);
      return;
    }
    if (this.timers.inactivity > 0 && t - this.lastActivity >= this.timers.inactivity) {
      this.finish("Closed after a period without activity.", null);
      return;
    }
    if (t - this.lastPing >= this.timers.pingInterval) {
      this.lastPing = t;
      for (const [id, at] of this.pings) if (t - at >= this.timers.deadAfter) this.pings.delete(id);
      const env = this.sendNow("ping", {});
      this.pings.set(env.messageId, t);
    }
  }
}
