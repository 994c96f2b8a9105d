// The handshake transcripts (resources/protocol/handshake-transcripts.json, written by
// scripts/make_transcripts.py from protocol.md), every one: the same replay as the
// desktop's tests/core/test_handshake.py.
import assert from "node:assert/strict";
import { test } from "node:test";
import transcripts from "../../protocol/handshake-transcripts.json";
import { fromHex } from "../src/bytes";
import { Handshake, type HState, type Output, type Role, TRANSITIONS } from "../src/handshake";
import type { Payload } from "../src/messages";

type Step = { input: string; payload?: Payload; outputs: unknown[]; state: string };

// The file's output forms, as the page's Output values.
function expected(o: unknown): Output {
  const out = o as { send?: Payload; verified?: { version: number; code: string; peerInfo: Payload }; failed?: { code: string; message: string; tellPeer: boolean } };
  if (out.send !== undefined) return { kind: "send", payload: out.send };
  if (out.verified !== undefined) return { kind: "verified", ...out.verified };
  const f = out.failed as { code: string; message: string; tellPeer: boolean };
  return { kind: "failed", code: f.code as Extract<Output, { kind: "failed" }>["code"], message: f.message, tellPeer: f.tellPeer };
}

type Transcript = (typeof transcripts.transcripts)[number];

/** Replays one transcript, checking every step; returns the `${role} ${state} ${input}` taken. */
function replay(t: Transcript): string[] {
  const role = t.role as Role;
  const h = new Handshake(role, fromHex(t.fingerprintOffer), fromHex(t.fingerprintAnswer), fromHex(t.nonce), t.versions, t.info as Payload);
  return (t.steps as Step[]).map((step, i) => {
    const key = `${role} ${h.state} ${step.input}`;
    const before = h.outputs.length;
    h.handle(step.input, step.payload ?? {});
    assert.deepEqual(h.outputs.slice(before), step.outputs.map(expected), `step ${i} (${step.input})`);
    assert.equal(h.state, step.state as HState, `state after step ${i} (${step.input})`);
    return key;
  });
}

for (const t of transcripts.transcripts) {
  test(`transcript: ${t.name}`, () => {
    replay(t);
  });
}

test("the transcripts take every transition of the table", () => {
  const covered = new Set(transcripts.transcripts.flatMap(replay));
  assert.deepEqual([...TRANSITIONS.keys()].filter((key) => !covered.has(key)), []);
});
