// The in-band handshake: version negotiation, then commit–reveal verification
// (resources/protocol/protocol.md).
//
//   answerer (this page)               offerer (the cashier)
//     -- hello {versions, commit} -->    commit = H(N_a)
//     <-- accept {version, nonce} ---    nonce = N_o, version = highest common
//     -- reveal {nonce} ------------>    N_a, checked against the commitment
//   both: code = SAS(fp_offer, fp_answer, N_o, N_a)
//
// The table (transitions, ignored inputs, what each state waits for, the failures and
// their codes) is resources/protocol/handshake.json, which the desktop's
// core/handshake.py reads too; this module interprets it and does each action's
// arithmetic. Both replay resources/protocol/handshake-transcripts.json.
// Pure: `handle` takes inputs and appends outputs; no I/O, no clock (the link owns the
// timers and says "resend" or "timeout" when one fires).

import table from "../../protocol/handshake.json";
import { fromHex, toHex } from "./bytes";
import type { ErrorCode } from "./errors";
import type { Payload } from "./messages";
import { commitment, commitmentMatches, newNonce, sasCode } from "./sas";

export const SUPPORTED_VERSIONS: readonly number[] = table.versions;

export type Role = "offerer" | "answerer";

// The states are the table's (each one's `why` there says what it stands for).
export type HState = keyof typeof table.states;
type Failure = keyof typeof table.failures;

// `${role} ${state} ${input}` -> [next state, action].
export const TRANSITIONS: ReadonlyMap<string, [HState, string | null]> = new Map(
  table.transitions.map((t) => [`${t.role} ${t.state} ${t.input}`, [t.next as HState, t.action]]),
);

// `${state} ${input}` pairs that change nothing, for either role.
export const IGNORED: ReadonlySet<string> = new Set(
  table.ignored.flatMap((group) => group.states.flatMap((s) => group.inputs.map((i) => `${s} ${i}`))),
);

// What a handshake still waits for, by state: said when it times out, so a stalled
// pairing tells which step never came.
export const WAITING_FOR: Readonly<Partial<Record<HState, string>>> = Object.fromEntries(
  Object.entries(table.states).flatMap(([s, v]) => ("waitingFor" in v ? [[s, v.waitingFor]] : [])),
);

export type Output =
  | { kind: "send"; payload: Payload }
  | { kind: "verified"; version: number; code: string; peerInfo: Payload }
  | { kind: "failed"; code: ErrorCode; message: string; tellPeer: boolean };

/** A failure's sentence with its {names} filled in, as the desktop's facts.fill writes it. */
export function fill(template: string, values: Readonly<Record<string, unknown>>): string {
  const text = (v: unknown): string => (Array.isArray(v) ? v.map(text).join(", ") : String(v));
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`no value for {${name}} in "${template}"`);
    return text(values[name]);
  });
}

/** What the other side said about itself in a step (its agent, its merchant). */
function kept(payload: Payload, step: keyof typeof table.peerInfo): Payload {
  const keys: readonly string[] = table.peerInfo[step];
  return Object.fromEntries(Object.entries(payload).filter(([k]) => keys.includes(k)));
}

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
      const before = this.state;
      this.state = next;
      if (action !== null) this.run(action, payload, before);
    } else if (!IGNORED.has(`${this.state} ${step}`)) {
      this.fail(table.otherwise as Failure, { input: step, state: this.state });
    }
  }

  private run(action: string, payload: Payload, before: HState): void {
    switch (action) {
      case "send_hello":
        return this.sendHello();
      case "on_hello":
        return this.onHello(payload);
      case "on_repeated_hello":
        return this.onRepeatedHello(payload);
      case "on_accept":
        return this.onAccept(payload);
      case "on_reveal":
        return this.onReveal(payload);
      case "time_out":
        return this.fail("timed_out", { seconds: payload["seconds"], waitingFor: WAITING_FOR[before] });
      default:
        throw new Error(`protocol/handshake.json names an unknown action ${JSON.stringify(action)}`);
    }
  }

  /** One of the table's failures, its sentence filled in: the handshake ends here. */
  private fail(failure: Failure, values: Readonly<Record<string, unknown>> = {}): void {
    const f = table.failures[failure];
    this.state = "failed";
    this.outputs.push({ kind: "failed", code: f.code as ErrorCode, message: fill(f.message, values), tellPeer: f.tellPeer });
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
      this.fail("no_common_version", { theirs, ours: this.versions });
      return;
    }
    this.version = Math.max(...common);
    this.peerCommit = fromHex(payload["commit"] as string);
    this.peerHello = { ...payload };
    this.peerInfo = kept(payload, "hello");
    this.accept = { step: "accept", version: this.version, nonce: toHex(this.nonce), ...this.info };
    this.outputs.push({ kind: "send", payload: { ...this.accept } });
  }

  private onRepeatedHello(payload: Payload): void {
    const same = (k: string): boolean => JSON.stringify(payload[k]) === JSON.stringify(this.peerHello[k]);
    if (!table.repeatedHelloMustKeep.every(same)) {
      this.fail("changed_hello");
      return;
    }
    this.outputs.push({ kind: "send", payload: { ...this.accept } });
  }

  private onAccept(payload: Payload): void {
    const version = payload["version"] as number;
    if (!this.versions.includes(version)) {
      this.fail("version_not_offered", { version });
      return;
    }
    this.version = version;
    this.peerInfo = kept(payload, "accept");
    this.outputs.push({ kind: "send", payload: { step: "reveal", nonce: toHex(this.nonce) } });
    this.verified(fromHex(payload["nonce"] as string), this.nonce);
  }

  private onReveal(payload: Payload): void {
    const nonceA = fromHex(payload["nonce"] as string);
    if (!commitmentMatches(this.peerCommit, nonceA)) {
      this.fail("broken_commitment");
      return;
    }
    this.verified(this.nonce, nonceA);
  }

  private verified(nonceO: Uint8Array, nonceA: Uint8Array): void {
    const code = sasCode(this.fpOffer, this.fpAnswer, nonceO, nonceA);
    this.outputs.push({ kind: "verified", version: this.version, code, peerInfo: this.peerInfo });
  }
}
