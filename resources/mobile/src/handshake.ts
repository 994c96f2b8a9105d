// The in-band handshake: version negotiation, then commit–reveal verification
// (protocol.md; the same table as qrlink_desktop/core/handshake.py).
//
//   answerer (this page)               offerer (the cashier)
//     -- hello {versions, commit} -->    commit = H(N_a)
//     <-- accept {version, nonce} ---    nonce = N_o, version = highest common
//     -- reveal {nonce} ------------>    N_a, checked against the commitment
//   both: code = SAS(fp_offer, fp_answer, N_o, N_a)
//
// Pure: `handle` takes inputs and appends outputs; no I/O, no clock.

import { fromHex, toHex } from "./bytes";
import type { ErrorCode } from "./errors";
import type { Payload } from "./messages";
import { commitment, commitmentMatches, newNonce, sasCode } from "./sas";

export const SUPPORTED_VERSIONS: readonly number[] = [1];

export type Role = "offerer" | "answerer";

export type HState =
  | "start" // the data channel is not open yet; nothing sent
  | "hello_sent" // answerer: committed to N_a, waiting for the offerer's nonce
  | "wait_hello" // offerer: channel open, waiting for the answerer's commitment
  | "wait_reveal" // offerer: N_o sent, waiting for N_a to check the commitment
  | "verified" // both nonces known: the code can be shown, payments may flow
  | "failed"; // wrong step, no common version, or a broken commitment: terminal

type Action = "sendHello" | "onHello" | "onRepeatedHello" | "onAccept" | "onReveal" | null;

// `${role} ${state} ${input}` -> [next state, action]. Inputs: "open", "resend" (the link's
// retransmission timer) and the peer's steps. The hello is repeated until answered: a
// browser can drop a message sent the instant its channel opens, without a word. A repeat
// must carry the same commitment and gets the same accept (as in core/handshake.py).
export const TRANSITIONS: ReadonlyMap<string, [HState, Action]> = new Map([
  ["answerer start open", ["hello_sent", "sendHello"]],
  ["answerer hello_sent resend", ["hello_sent", "sendHello"]],
  ["offerer start open", ["wait_hello", null]],
  ["offerer wait_hello hello", ["wait_reveal", "onHello"]],
  ["offerer wait_reveal hello", ["wait_reveal", "onRepeatedHello"]],
  ["answerer hello_sent accept", ["verified", "onAccept"]],
  ["offerer wait_reveal reveal", ["verified", "onReveal"]],
]);

// What a handshake still waits for, by state: said when it times out, so a stalled
// pairing tells which step never came (the same words as the desktop's).
export const WAITING_FOR: Readonly<Partial<Record<HState, string>>> = {
  start: "the data channel to open",
  hello_sent: "an answer to this side's hello",
  wait_hello: "the other side's hello",
  wait_reveal: "the other side's reveal",
};

// Inputs that change nothing: a second "open", a "resend" with nothing to repeat, and
// anything after the handshake ended.
const STATES: HState[] = ["start", "hello_sent", "wait_hello", "wait_reveal", "verified", "failed"];
export const IGNORED: ReadonlySet<string> = new Set([
  ...STATES.filter((s) => s !== "start").map((s) => `${s} open`),
  ...STATES.filter((s) => s !== "hello_sent").map((s) => `${s} resend`),
  ...["verified", "failed"].flatMap((s) => ["hello", "accept", "reveal"].map((i) => `${s} ${i}`)),
]);

export type Output =
  | { kind: "send"; payload: Payload }
  | { kind: "verified"; version: number; code: string; peerInfo: Payload }
  | { kind: "failed"; code: ErrorCode; message: string };

export class Handshake {
  state: HState = "start";
  readonly outputs: Output[] = [];
  private peerCommit: Uint8Array = new Uint8Array(0);
  private peerHello: Payload = {}; // offerer: the hello answered, to match repeats
  private accept: Payload = {}; // offerer: sent again for a repeated hello
  private peerInfo: Payload = {};
  private version = 0;

  constructor(
    readonly role: Role,
    private readonly fpOffer: Uint8Array,
    private readonly fpAnswer: Uint8Array,
    private readonly nonce: Uint8Array = newNonce(),
    private readonly versions: readonly number[] = SUPPORTED_VERSIONS,
    private readonly info: Payload = {},
  ) {}

  handle(step: string, payload: Payload = {}): void {
    const entry = TRANSITIONS.get(`${this.role} ${this.state} ${step}`);
    if (entry !== undefined) {
      const [next, action] = entry;
      this.state = next;
      if (action !== null) this[action](payload);
    } else if (!IGNORED.has(`${this.state} ${step}`)) {
      this.fail("VERIFICATION_FAILED", `unexpected handshake step ${JSON.stringify(step)} while ${this.state}`);
    }
  }

  private fail(code: ErrorCode, message: string): void {
    this.state = "failed";
    this.outputs.push({ kind: "failed", code, message });
  }

  private sendHello(): void {
    this.outputs.push({
      kind: "send",
      payload: { step: "hello", versions: [...this.versions], commit: toHex(commitment(this.nonce)), ...this.info },
    });
  }

  private onHello(payload: Payload): void {
    const theirs = payload["versions"] as number[];
    const common = theirs.filter((v) => this.versions.includes(v));
    if (common.length === 0) {
      this.fail("PROTOCOL_VERSION_UNSUPPORTED", `the other side speaks protocol versions ${JSON.stringify(theirs)}; this page speaks ${JSON.stringify(this.versions)}`);
      return;
    }
    this.version = Math.max(...common);
    this.peerCommit = fromHex(payload["commit"] as string);
    this.peerHello = { ...payload };
    this.peerInfo = "agent" in payload ? { agent: payload["agent"] } : {};
    this.accept = { step: "accept", version: this.version, nonce: toHex(this.nonce), ...this.info };
    this.outputs.push({ kind: "send", payload: { ...this.accept } });
  }

  private onRepeatedHello(payload: Payload): void {
    const same = (k: string): boolean => JSON.stringify(payload[k]) === JSON.stringify(this.peerHello[k]);
    if (!same("commit") || !same("versions")) {
      this.fail("VERIFICATION_FAILED", "the other side repeated its hello with a different commitment; someone may be interfering with this connection");
      return;
    }
    this.outputs.push({ kind: "send", payload: { ...this.accept } });
  }

  private onAccept(payload: Payload): void {
    const version = payload["version"] as number;
    if (!this.versions.includes(version)) {
      this.fail("PROTOCOL_VERSION_UNSUPPORTED", `the other side chose protocol version ${version}, which this page did not offer`);
      return;
    }
    this.version = version;
    this.peerInfo = Object.fromEntries(Object.entries(payload).filter(([k]) => k === "merchant" || k === "agent"));
    this.outputs.push({ kind: "send", payload: { step: "reveal", nonce: toHex(this.nonce) } });
    this.verified(fromHex(payload["nonce"] as string), this.nonce);
  }

  private onReveal(payload: Payload): void {
    const nonceA = fromHex(payload["nonce"] as string);
    if (!commitmentMatches(this.peerCommit, nonceA)) {
      this.fail("VERIFICATION_FAILED", "the other side's nonce does not match its commitment; someone may be interfering with this connection");
      return;
    }
    this.verified(this.nonce, nonceA);
  }

  private verified(nonceO: Uint8Array, nonceA: Uint8Array): void {
    const code = sasCode(this.fpOffer, this.fpAnswer, nonceO, nonceA);
    this.outputs.push({ kind: "verified", version: this.version, code, peerInfo: this.peerInfo });
  }
}
