// The cross-language vector file, every entry: the same checks as the Python codec's tests.
import assert from "node:assert/strict";
import { test } from "node:test";
import vectors from "../../protocol/bootstrap-vectors.json";
import * as alnum from "../src/alnum";
import { fromHex, toHex } from "../src/bytes";
import { answerText, type BootstrapRecord, decodeCompact, deriveCredentials, offerText, pack, unpack } from "../src/codec";
import { QrlinkError } from "../src/errors";
import { answerKey, answerMac, answerRequest } from "../src/home";
import { parse } from "../src/messages";
import { commitment, sasCode } from "../src/sas";
import { rebuild, reduce } from "../src/sdp";

const now = vectors.decodeNow;

function plain(r: BootstrapRecord): unknown {
  return {
    kind: r.kind,
    offerId: toHex(r.offerId),
    ufrag: r.ufrag,
    pwd: r.pwd,
    fingerprint: toHex(r.fingerprint),
    candidates: r.candidates,
    expiresAt: r.expiresAt,
    setup: r.setup,
    relayOnly: r.relayOnly,
    replyHandle: r.replyHandle === null ? null : toHex(r.replyHandle),
    seed: r.seed === null ? null : toHex(r.seed),
  };
}

test("vector file has entries of every kind", () => {
  assert.ok(vectors.valid.length >= 8 && vectors.invalid.length >= 15 && vectors.alnum.length > 0);
});

for (const v of vectors.valid) {
  test(`valid: ${v.name}`, () => {
    const record = decodeCompact(v.text, { now });
    assert.deepEqual(plain(record), v.record);
    assert.equal(toHex(pack(record)), v.packedHex);
    assert.deepEqual(plain(unpack(fromHex(v.packedHex), { now })), v.record);
    assert.equal(rebuild(record), v.sdp);
    const text = record.kind === "offer" ? offerText(record, vectors.pageUrl) : answerText(record);
    assert.equal(text, v.text);
    // The rebuilt SDP reduces back to the same fields.
    const reduced = reduce(v.sdp);
    assert.equal(reduced.ufrag, record.ufrag);
    assert.equal(reduced.pwd, record.pwd);
    assert.deepEqual(reduced.candidates, record.candidates);
    assert.equal(toHex(reduced.fingerprint), toHex(record.fingerprint));
  });
}

for (const v of vectors.invalid) {
  test(`invalid: ${v.name}`, () => {
    assert.throws(
      () => decodeCompact(v.text, { now, allowLoopback: false }),
      (exc: unknown) => exc instanceof QrlinkError && exc.code === v.error,
    );
  });
}

test("expired offers decode with the expiry check off, and loopback when allowed", () => {
  const expired = vectors.invalid.find((v) => v.name === "expired offer");
  assert.ok(expired);
  assert.equal(decodeCompact(expired.text, { now, checkExpiry: false }).kind, "offer");
  const loop = vectors.invalid.find((v) => v.name === "loopback candidate");
  assert.ok(loop);
  assert.equal(decodeCompact(loop.text, { now, allowLoopback: true }).candidates[0]?.address, "127.0.0.1");
  const loop6 = vectors.invalid.find((v) => v.name === "IPv6 loopback candidate");
  assert.ok(loop6);
  assert.equal(decodeCompact(loop6.text, { now, allowLoopback: true }).candidates[0]?.address, "::1");
});

// Browsers' own answers (Firefox with loopback prefs answers with 127.0.0.1 and ::1, and
// TCP candidates aiortc cannot use): the same reduction and answer text as in Python.
for (const v of vectors.browserAnswers) {
  test(`browser answer: ${v.name}`, () => {
    const r = reduce(v.sdp);
    assert.deepEqual([r.ufrag, r.pwd, r.setup, toHex(r.fingerprint)], [v.ufrag, v.pwd, v.setup, v.fingerprint]);
    assert.deepEqual(r.candidates, v.candidates);
    assert.equal(r.dropped.length, v.dropped);
    assert.ok(r.dropped.every((d) => / tcp /i.test(d)));
    const record: BootstrapRecord = {
      kind: "answer",
      offerId: fromHex("c0ffee00"),
      ufrag: r.ufrag,
      pwd: r.pwd,
      fingerprint: r.fingerprint,
      candidates: r.candidates,
      expiresAt: null,
      setup: r.setup,
      relayOnly: false,
      replyHandle: null,
      seed: null,
    };
    assert.equal(answerText(record), v.text);
    assert.deepEqual(decodeCompact(v.text, { now, allowLoopback: true }).candidates, v.candidates);
    if (v.loopback) {
      assert.throws(
        () => decodeCompact(v.text, { now }),
        (exc: unknown) => exc instanceof QrlinkError && exc.code === "BOOTSTRAP_PARSE_FAILED" && /loopback/.test(exc.message),
      );
    } else {
      assert.deepEqual(decodeCompact(v.text, { now }).candidates, v.candidates);
    }
  });
}

for (const v of vectors.alnum) {
  test(`base-41: ${v.hex || "(empty)"}`, () => {
    assert.equal(alnum.encode(fromHex(v.hex)), v.text);
    assert.equal(toHex(alnum.decode(v.text)), v.hex);
  });
}

test("base-41 decoding is strict", () => {
  assert.throws(() => alnum.decode("0"), alnum.AlnumError);
  assert.throws(() => alnum.decode("***"), alnum.AlnumError);
  assert.throws(() => alnum.decode("**"), alnum.AlnumError);
  assert.throws(() => alnum.decode("ab0"), alnum.AlnumError);
});

for (const v of vectors.deriveCredentials) {
  test(`credentials from seed ${v.seed}`, () => {
    const d = deriveCredentials(fromHex(v.seed));
    assert.deepEqual({ offerId: toHex(d.offerId), ufrag: d.ufrag, pwd: d.pwd }, { offerId: v.offerId, ufrag: v.ufrag, pwd: v.pwd });
  });
}

for (const v of vectors.answerMac) {
  test(`answer MAC for offer ${v.offerId}`, () => {
    const seed = fromHex(v.seed);
    const key = answerKey(seed);
    assert.equal(toHex(key), v.key);
    assert.equal(toHex(deriveCredentials(seed).offerId), v.offerId);
    assert.equal(toHex(answerMac(key, fromHex(v.offerId), v.answer)), v.mac);
    const offer = vectors.valid.find((o) => o.record.seed === v.seed);
    assert.ok(offer);
    assert.equal(answerRequest(decodeCompact(offer.text, { now }), v.answer), v.request);
  });
}

for (const v of vectors.sas) {
  test(`verification code ${v.code}`, () => {
    assert.equal(toHex(commitment(fromHex(v.nonceAnswer))), v.commitAnswer);
    assert.equal(sasCode(fromHex(v.fingerprintOffer), fromHex(v.fingerprintAnswer), fromHex(v.nonceOffer), fromHex(v.nonceAnswer)), v.code);
  });
}

for (const v of vectors.messagesValid) {
  test(`message valid: ${v.type} ${v.messageId}`, () => {
    const env = parse(JSON.stringify(v));
    assert.deepEqual(env, v);
  });
}

for (const v of vectors.messagesInvalid) {
  test(`message invalid: ${v.name}`, () => {
    assert.throws(
      () => parse(JSON.stringify(v.message)),
      (exc: unknown) => exc instanceof QrlinkError && exc.code === "MESSAGE_INVALID",
    );
  });
}
