// The protocol facts shared with the desktop (resources/protocol/*.json): the page uses
// what the files say, and the files say something coherent. The desktop's
// tests/core/test_facts.py checks its side against the same files.
import assert from "node:assert/strict";
import { test } from "node:test";
import errorFacts from "../../protocol/errors.json";
import table from "../../protocol/handshake.json";
import timerFacts from "../../protocol/timers.json";
import type { ErrorCode } from "../src/errors";
import { fill, IGNORED, SUPPORTED_VERSIONS, TRANSITIONS, WAITING_FOR } from "../src/handshake";
import { backoff, DEFAULT_TIMERS } from "../src/link";

test("error codes: the specification's first, then the protocol's, each with a one-line meaning", () => {
  // Which codes are the specification's (§10.1) the desktop's tests check against its text.
  const flags = Object.values(errorFacts.codes).map((e) => e.specification);
  assert.deepEqual(flags, [...flags].sort((x, y) => Number(y) - Number(x)));
  assert.ok(flags.includes(true) && flags.includes(false));
  for (const [code, e] of Object.entries(errorFacts.codes)) {
    assert.match(code, /^[A-Z_]{3,40}$/, code); // what an `error` message's schema admits
    assert.ok(e.meaning.length > 10 && !e.meaning.includes("\n"), code);
  }
  const used: ErrorCode = "VERIFICATION_FAILED"; // the type is the file's keys
  assert.ok(used in errorFacts.codes);
});

test("the page's timers are timers.json's, in milliseconds", () => {
  assert.equal(DEFAULT_TIMERS.handshakeTimeout, timerFacts.handshakeTimeout.seconds * 1000);
  assert.equal(DEFAULT_TIMERS.pingInterval, timerFacts.pingInterval.seconds * 1000);
  assert.equal(DEFAULT_TIMERS.deadAfter, timerFacts.deadAfter.seconds * 1000);
  assert.equal(DEFAULT_TIMERS.inactivity, timerFacts.inactivity.seconds * 1000);
  assert.deepEqual(DEFAULT_TIMERS.helloResend, [500, 1000, 2000, 4000]);
  // The specification's §10.2: 1 s -> 2 s -> 4 s, never more than 10 s.
  assert.deepEqual(DEFAULT_TIMERS.retryDelays, [1000, 2000, 4000]);
  assert.deepEqual(backoff({ ...timerFacts.retry, retries: 6 }), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.ok(DEFAULT_TIMERS.pingInterval < DEFAULT_TIMERS.deadAfter && DEFAULT_TIMERS.deadAfter <= 15_000);
});

test("the handshake table names only its own states, inputs, failures and known codes", () => {
  const states = Object.keys(table.states);
  const inputs = Object.keys(table.inputs);
  const keys = table.transitions.map((t) => `${t.role} ${t.state} ${t.input}`);
  assert.equal(new Set(keys).size, keys.length, "a transition is listed twice");
  for (const t of table.transitions) {
    assert.ok(["offerer", "answerer"].includes(t.role), t.role);
    assert.ok(states.includes(t.state) && states.includes(t.next) && inputs.includes(t.input), JSON.stringify(t));
    assert.ok(!IGNORED.has(`${t.state} ${t.input}`), `${t.state} ${t.input} is both a transition and ignored`);
  }
  for (const pair of IGNORED) {
    const [state, input] = pair.split(" ");
    assert.ok(states.includes(state as string) && inputs.includes(input as string), pair);
  }
  assert.ok(table.otherwise in table.failures);
  for (const [name, f] of Object.entries(table.failures)) assert.ok(f.code in errorFacts.codes, name);
  assert.equal(TRANSITIONS.size, table.transitions.length);
  // Every state a handshake can still leave says what it waits for.
  assert.deepEqual(Object.keys(WAITING_FOR), states.filter((s) => s !== "verified" && s !== "failed"));
  assert.deepEqual(SUPPORTED_VERSIONS, [1]);
});

test("a failure's sentence is filled in as the desktop fills it", () => {
  assert.equal(fill("versions {theirs}; {ours}", { theirs: [2, 3], ours: [1] }), "versions 2, 3; 1");
  assert.equal(fill("within {seconds} seconds", { seconds: 10 }), "within 10 seconds");
  assert.equal(fill("within {seconds} seconds", { seconds: 2.5 }), "within 2.5 seconds");
  assert.throws(() => fill("{missing}", {}), /no value for \{missing\}/);
});
