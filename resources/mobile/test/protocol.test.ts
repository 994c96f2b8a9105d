// Message schemas, the handshake table, the conversation (dedup, refusal before
// verification) and the link (ping/pong, identical replies) over a fake channel.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Conversation } from "../src/conversation";
import { Handshake } from "../src/handshake";
import * as ip from "../src/ip";
import { DEFAULT_TIMERS, Link, type LinkEvent } from "../src/link";
import { checkAmount, make, MAX_MESSAGE_BYTES, parse, toJson } from "../src/messages";
import { bufferEarly } from "../src/peer";
import { parseCandidate, reduce } from "../src/sdp";
import { FakeChannel } from "./fake_channel";
import { code } from "./support";

const fp1 = new Uint8Array(32).fill(1);
const fp2 = new Uint8Array(32).fill(2);
const T = 1_800_000_000_000;

test("every message type validates its payload schema", () => {
  const ok: [string, object][] = [
    ["handshake", { step: "hello", versions: [1], commit: "a".repeat(64), agent: "x" }],
    ["handshake", { step: "accept", version: 1, nonce: "b".repeat(64), merchant: "Shop" }],
    ["handshake", { step: "reveal", nonce: "c".repeat(64) }],
    ["payment_request", { amount: "12.50", currency: "EUR", merchant: "M", reference: "R", description: "d" }],
    ["payment_response", { requestId: "req-00000001", status: "declined", reason: "no" }],
    ["payment_acknowledgment", { requestId: "req-00000001", status: "approved" }],
    ["error", { code: "NOT_VERIFIED", message: "m", refMessageId: "req-00000001" }],
    ["ping", {}],
    ["pong", { pingId: "ping-0000001" }],
  ];
  for (const [type, payload] of ok) {
    assert.equal(code(() => parse(JSON.stringify({ type, payload, timestamp: T, messageId: "msg-00000001" }))), "OK", type);
  }
  const bad: [string, object][] = [
    ["handshake", { step: "hello", versions: [], commit: "a".repeat(64) }],
    ["handshake", { step: "accept", version: 1, nonce: "B".repeat(64) }],
    ["handshake", { step: "reveal", nonce: "c".repeat(64), extra: 1 }],
    ["payment_request", { amount: "1e3", currency: "EUR" }],
    ["payment_request", { amount: "12.50", currency: "eur" }],
    ["payment_request", { amount: "12.50", currency: "EUR", merchant: "m".repeat(65) }],
    ["payment_response", { requestId: "short", status: "approved" }],
    ["error", { code: "lower", message: "m" }],
    ["ping", { x: 1 }],
    ["pong", {}],
  ];
  for (const [type, payload] of bad) {
    assert.equal(code(() => parse(JSON.stringify({ type, payload, timestamp: T, messageId: "msg-00000001" }))), "MESSAGE_INVALID", JSON.stringify(payload));
  }
});

test("envelope: size cap before parsing, JSON, fields, timestamp type", () => {
  assert.equal(code(() => parse("x".repeat(MAX_MESSAGE_BYTES + 1))), "MESSAGE_TOO_LARGE");
  assert.equal(code(() => parse("{not json")), "MESSAGE_INVALID");
  assert.equal(code(() => parse(JSON.stringify({ type: "ping", payload: {}, timestamp: -1, messageId: "msg-00000001" }))), "MESSAGE_INVALID");
  assert.equal(code(() => parse(JSON.stringify({ type: "ping", payload: {}, timestamp: 1.5, messageId: "msg-00000001" }))), "MESSAGE_INVALID");
  assert.equal(code(() => parse(JSON.stringify({ type: "ping", payload: [], timestamp: 1, messageId: "msg-00000001" }))), "MESSAGE_INVALID");
});

test("amounts: currency decimals and zero", () => {
  assert.equal(code(() => checkAmount("100", "JPY")), "OK");
  assert.equal(code(() => checkAmount("1.234", "BHD")), "OK");
  assert.equal(code(() => checkAmount("1.2345", "BHD")), "MESSAGE_INVALID");
  assert.equal(code(() => checkAmount("0", "EUR")), "MESSAGE_INVALID");
  assert.equal(code(() => checkAmount("0.01", "EUR")), "OK");
});

test("handshake: both roles agree on the code; a wrong reveal fails", () => {
  const a = new Handshake("answerer", fp1, fp2);
  const o = new Handshake("offerer", fp1, fp2);
  a.handle("open");
  o.handle("open");
  const hello = a.outputs[0];
  assert.ok(hello?.kind === "send");
  o.handle("hello", hello.payload);
  const accept = o.outputs[0];
  assert.ok(accept?.kind === "send");
  a.handle("accept", accept.payload);
  const reveal = a.outputs[1];
  assert.ok(reveal?.kind === "send");
  o.handle("reveal", reveal.payload);
  const va = a.outputs[2];
  const vo = o.outputs[1];
  assert.ok(va?.kind === "verified" && vo?.kind === "verified");
  assert.equal(va.code, vo.code);
  assert.match(va.code, /^[0-9]{6}$/);
  // Late duplicates change nothing.
  a.handle("accept", accept.payload);
  assert.equal(a.state, "verified");

  const o2 = new Handshake("offerer", fp1, fp2);
  o2.handle("open");
  o2.handle("hello", hello.payload);
  o2.handle("reveal", { step: "reveal", nonce: "0".repeat(64) });
  assert.equal(o2.state, "failed");
  assert.ok(o2.outputs.some((x) => x.kind === "failed" && x.code === "VERIFICATION_FAILED"));
});

test("handshake: out-of-order step fails; no common version fails", () => {
  const a = new Handshake("answerer", fp1, fp2);
  a.handle("accept", { step: "accept", version: 1, nonce: "0".repeat(64) });
  assert.equal(a.state, "failed");
  const o = new Handshake("offerer", fp1, fp2);
  o.handle("open");
  o.handle("hello", { step: "hello", versions: [7], commit: "0".repeat(64) });
  assert.ok(o.outputs.some((x) => x.kind === "failed" && x.code === "PROTOCOL_VERSION_UNSUPPORTED"));
});

test("handshake: a repeated hello gets the same accept; a changed commitment fails", () => {
  const a = new Handshake("answerer", fp1, fp2);
  const o = new Handshake("offerer", fp1, fp2);
  a.handle("open");
  o.handle("open");
  a.handle("resend");
  const hellos = a.outputs.filter((x) => x.kind === "send").map((x) => (x.kind === "send" ? x.payload : {}));
  assert.equal(hellos.length, 2);
  assert.deepEqual(hellos[1], hellos[0]);
  o.handle("hello", hellos[0]);
  o.handle("hello", hellos[1]);
  const accepts = o.outputs.filter((x) => x.kind === "send");
  assert.equal(accepts.length, 2);
  assert.deepEqual(accepts[1], accepts[0]);
  assert.equal(o.state, "wait_reveal");
  const first = accepts[0];
  assert.ok(first?.kind === "send");
  a.handle("accept", first.payload);
  a.handle("resend"); // a timer firing late changes nothing
  assert.equal(a.state, "verified");
  assert.equal(a.outputs.filter((x) => x.kind === "send").length, 3, "two hellos and one reveal");
  const m = new Handshake("offerer", fp1, fp2);
  m.handle("open");
  m.handle("hello", hellos[0]);
  m.handle("hello", { ...hellos[0], commit: "0".repeat(64) });
  assert.equal(m.state, "failed");
  assert.ok(m.outputs.some((x) => x.kind === "failed" && x.code === "VERIFICATION_FAILED" && /different commitment/.test(x.message)));
});

test("link: an unanswered hello is sent again, with the same commitment", async () => {
  const ch = new FakeChannel();
  const events: LinkEvent[] = [];
  const timers = { ...DEFAULT_TIMERS, pingInterval: 40, deadAfter: 60_000, helloResend: [20, 20] };
  const link = new Link(ch, new Handshake("answerer", fp1, fp2), new Conversation(), (e) => events.push(e), timers);
  link.start();
  const handshakes = () => ch.sent.map((raw) => JSON.parse(raw)).filter((m) => m.type === "handshake");
  await until(() => handshakes().length >= 3);
  await sleep(100); // five times the repeat interval: a third repeat would be here by now
  const hellos = handshakes();
  assert.equal(hellos.length, 3, "the first and two repeats, then no more");
  assert.ok(hellos.every((h) => h.payload.commit === hellos[0].payload.commit));
  assert.equal(new Set(hellos.map((h) => h.messageId)).size, 3);
  link.close();
});

test("conversation: refused before verification, identical reply to a duplicate", () => {
  const c = new Conversation();
  const req = make("payment_request", { amount: "12.50", currency: "EUR" }, T, "req-00000001");
  const refused = c.receive(req, T);
  assert.equal(refused.length, 1);
  assert.ok(refused[0]?.kind === "send" && refused[0].envelope.type === "error" && refused[0].envelope.payload["code"] === "NOT_VERIFIED");
  c.verified = true;
  const first = c.receive(req, T);
  assert.equal(first[0]?.kind, "request");
  // Duplicate before the customer decides: nothing to resend.
  assert.deepEqual(c.receive(req, T + 1), [{ kind: "duplicate", messageId: "req-00000001" }]);
  const reply = c.respond("req-00000001", true, T + 2);
  assert.ok(reply[0]?.kind === "send");
  const raw = toJson(reply[0].envelope);
  assert.deepEqual(c.respond("req-00000001", false, T + 3), [], "a second tap changes nothing");
  const dup = c.receive(req, T + 4);
  assert.equal(dup[0]?.kind, "duplicate");
  assert.ok(dup[1]?.kind === "send");
  assert.equal(dup[1].raw, raw);
  assert.equal(c.processed.length, 1);
  assert.equal(c.unanswered().length, 1);
  const ack = make("payment_acknowledgment", { requestId: "req-00000001", status: "approved" }, T, "ack-00000001");
  assert.equal(c.receive(ack, T + 5)[0]?.kind, "acknowledged");
  assert.equal(c.unanswered().length, 0);
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `done()` (timers here are milliseconds; the bound only ends a broken test). */
async function until(done: () => boolean, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${limitMs} ms`);
    await sleep(5);
  }
}

const ELEVEN_MINUTES_MS = 11 * 60_000;

test("conversation: a request replayed after eleven minutes gets the identical reply", () => {
  const c = new Conversation();
  c.verified = true;
  const req = make("payment_request", { amount: "12.50", currency: "EUR" }, T, "req-00000001");
  c.receive(req, T);
  const reply = c.respond("req-00000001", true, T + 1);
  assert.ok(reply[0]?.kind === "send");
  const raw = toJson(reply[0].envelope);
  const ack = make("payment_acknowledgment", { requestId: "req-00000001", status: "approved" }, T, "ack-00000001");
  c.receive(ack, T + 2);
  // Many messages in between do not push the decision out.
  for (let i = 0; i < 1100; i++) {
    c.receive(make("payment_acknowledgment", { requestId: `unknown-${String(i).padStart(5, "0")}`, status: "approved" }, T), T + 3);
  }
  const late = c.receive(req, T + ELEVEN_MINUTES_MS);
  assert.deepEqual(late[0], { kind: "duplicate", messageId: "req-00000001" });
  assert.ok(late[1]?.kind === "send");
  assert.equal(late[1].raw, raw);
  assert.equal(late.length, 2);
  assert.deepEqual(c.processed, ["req-00000001", "ack-00000001"]);
  assert.equal(c.payments.get("req-00000001")?.status, "approved");
  // Another acknowledgment for the same payment changes nothing.
  const other = make("payment_acknowledgment", { requestId: "req-00000001", status: "declined" }, T, "ack-00000002");
  assert.deepEqual(c.receive(other, T + ELEVEN_MINUTES_MS), [{ kind: "duplicate", messageId: "ack-00000002" }]);
  assert.equal(c.payments.get("req-00000001")?.acknowledgment?.messageId, "ack-00000001");
});

test("conversation: past the cap new requests are refused, replays still answered", () => {
  const c = new Conversation(3);
  c.verified = true;
  const reqs = [1, 2, 3, 4].map((i) => make("payment_request", { amount: `${i}.00`, currency: "EUR" }, T, `req-0000000${i}`));
  const raws: string[] = [];
  for (const req of reqs.slice(0, 3)) {
    c.receive(req, T);
    const reply = c.respond(req.messageId, true, T);
    assert.ok(reply[0]?.kind === "send");
    raws.push(toJson(reply[0].envelope));
  }
  for (const at of [T + 1, T + ELEVEN_MINUTES_MS]) {
    const refused = c.receive(reqs[3] as (typeof reqs)[number], at);
    assert.equal(refused.length, 1);
    assert.ok(refused[0]?.kind === "send" && refused[0].envelope.type === "error");
    assert.equal(refused[0].envelope.payload["code"], "RATE_LIMITED");
    assert.equal(refused[0].envelope.payload["refMessageId"], "req-00000004");
  }
  assert.equal(c.payments.has("req-00000004"), false);
  reqs.slice(0, 3).forEach((req, i) => {
    const again = c.receive(req, T + ELEVEN_MINUTES_MS);
    assert.ok(again[1]?.kind === "send");
    assert.equal(again[1].raw, raws[i]);
  });
  assert.deepEqual(c.processed, ["req-00000001", "req-00000002", "req-00000003"]);
  assert.equal(new Conversation().maxRequests, 1000);
});


test("link: hello on open, pong for ping, errors for invalid input, verified flow", () => {
  const ch = new FakeChannel();
  const events: LinkEvent[] = [];
  const offerer = new Handshake("offerer", fp1, fp2);
  offerer.handle("open");
  const link = new Link(ch, new Handshake("answerer", fp1, fp2), new Conversation(), (e) => events.push(e), { ...DEFAULT_TIMERS, pingInterval: 60_000 });
  link.start();
  const hello = JSON.parse(ch.sent[0] as string);
  assert.equal(hello.payload.step, "hello");
  ch.deliver(JSON.stringify(make("ping", {}, T, "ping-0000001")));
  assert.equal(JSON.parse(ch.sent[1] as string).payload.pingId, "ping-0000001");
  ch.deliver("{broken");
  assert.equal(JSON.parse(ch.sent[2] as string).type, "error");
  const req = make("payment_request", { amount: "1.00", currency: "EUR" }, T, "req-00000009");
  ch.deliver(JSON.stringify(req));
  assert.equal(JSON.parse(ch.sent[3] as string).payload.code, "NOT_VERIFIED");
  offerer.handle("hello", hello.payload);
  const accept = offerer.outputs.find((x) => x.kind === "send");
  assert.ok(accept?.kind === "send");
  ch.deliver(JSON.stringify(make("handshake", { ...accept.payload, merchant: "Shop" }, T)));
  const verified = events.find((e) => e.kind === "verified");
  assert.ok(verified?.kind === "verified" && verified.merchant === "Shop");
  ch.deliver(JSON.stringify(req));
  const request = events.find((e) => e.kind === "request");
  assert.ok(request?.kind === "request");
  link.respond("req-00000009", false);
  const response = ch.sent[ch.sent.length - 1] as string;
  assert.equal(JSON.parse(response).payload.status, "declined");
  ch.deliver(JSON.stringify(req));
  assert.equal(ch.sent[ch.sent.length - 1], response, "identical reply to a duplicate");
  link.close();
  assert.ok(events.some((e) => e.kind === "closed"));
});

test("link: what arrives before the link starts is kept and handled after the hello, in order", () => {
  const ch = new FakeChannel();
  const arrived = bufferEarly(ch as unknown as RTCDataChannel);
  ch.deliver(JSON.stringify(make("ping", {}, T, "ping-0000001")));
  ch.deliver(JSON.stringify(make("ping", {}, T, "ping-0000002")));
  const events: LinkEvent[] = [];
  const link = new Link(ch, new Handshake("answerer", fp1, fp2), new Conversation(), (e) => events.push(e), { ...DEFAULT_TIMERS, pingInterval: 60_000 });
  link.start(arrived.takeEarly());
  const sent = ch.sent.map((raw) => JSON.parse(raw));
  assert.equal(sent[0].payload.step, "hello", "the hello goes first");
  assert.deepEqual(sent.slice(1).map((m) => m.payload.pingId), ["ping-0000001", "ping-0000002"]);
  assert.deepEqual(arrived.takeEarly(), [], "taken once");
  ch.deliver(JSON.stringify(make("ping", {}, T, "ping-0000003")));
  assert.equal(JSON.parse(ch.sent[3] as string).payload.pingId, "ping-0000003", "the link owns the channel now");
  link.close();
});

test("link: a handshake step the browser refuses to send is retried; a failed pong is reported", async () => {
  const ch = new FakeChannel();
  const send = ch.send.bind(ch);
  let refuse = 1;
  ch.send = (data: string) => {
    if (refuse-- > 0) throw new Error("not ready");
    send(data);
  };
  const events: LinkEvent[] = [];
  const timers = { ...DEFAULT_TIMERS, pingInterval: 60_000, retryDelays: [5, 10] };
  const link = new Link(ch, new Handshake("answerer", fp1, fp2), new Conversation(), (e) => events.push(e), timers);
  link.start();
  assert.equal(ch.sent.length, 0);
  await until(() => ch.sent.length > 0);
  assert.equal(JSON.parse(ch.sent[0] as string).payload.step, "hello", "sent on the retry");
  assert.equal(events.filter((e) => e.kind === "error").length, 0);
  refuse = 1;
  ch.deliver(JSON.stringify(make("ping", {}, T, "ping-0000001")));
  const error = events.find((e) => e.kind === "error");
  assert.ok(error?.kind === "error" && error.code === "MESSAGE_SEND_FAILED" && /^pong could not be sent/.test(error.message));
  link.close();
});

test("link: a handshake that times out says which step never came", async () => {
  const ch = new FakeChannel();
  const events: LinkEvent[] = [];
  const link = new Link(ch, new Handshake("answerer", fp1, fp2), new Conversation(), (e) => events.push(e), { ...DEFAULT_TIMERS, handshakeTimeout: 1, pingInterval: 40 });
  link.start();
  await until(() => events.some((e) => e.kind === "closed"));
  const closed = events.find((e) => e.kind === "closed");
  assert.ok(closed?.kind === "closed" && closed.failure?.code === "TIMEOUT");
  assert.match(closed.reason, /\(waiting for an answer to this side's hello\)$/);
  assert.equal(ch.readyState, "closed");
  // The other side is silent and the sentence speaks of it: it is not sent an error.
  assert.deepEqual(ch.sent.map((raw) => JSON.parse(raw).type).filter((t) => t === "error"), []);
});

test("addresses print as Python's ipaddress prints them", () => {
  const six = (s: string): string => ip.formatIpv6(ip.parseIpv6(s) as Uint8Array);
  assert.equal(six("2001:DB8:0:0:0:0:1:2"), "2001:db8::1:2");
  assert.equal(six("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
  assert.equal(six("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(six("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
  assert.equal(six("::"), "::");
  assert.equal(six("::ffff:1.2.3.4"), "::ffff:102:304");
  assert.equal(ip.parseIpv6("1::2::3"), null);
  assert.equal(ip.parseIpv4("01.2.3.4"), null);
  assert.equal(ip.refusal(Uint8Array.of(127, 0, 0, 1), false), "candidate address 127.0.0.1 is a loopback address");
  assert.equal(ip.refusal(Uint8Array.of(127, 0, 0, 1), true), null);
});

test("a browser answer SDP reduces to what a record keeps", () => {
  const sdp = [
    "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "a=candidate:1 1 udp 2113937151 3f0c6d0e-8e2b-4f0a-9d53-2b6f1c7a9e41.local 54321 typ host generation 0 network-cost 999",
    "a=candidate:2 1 tcp 1518280447 10.0.0.2 9 typ host tcptype active",
    "a=ice-ufrag:Ab+/", "a=ice-pwd:0123456789abcdefABCDEF+/",
    `a=fingerprint:sha-256 ${Array(32).fill("AB").join(":")}`, "a=setup:active", "a=mid:0",
  ].join("\r\n");
  const r = reduce(sdp);
  assert.deepEqual(r.candidates, [{ type: "host", address: "3f0c6d0e-8e2b-4f0a-9d53-2b6f1c7a9e41.local", port: 54321 }]);
  assert.equal(r.dropped.length, 1);
  assert.equal(r.setup, "active");
  assert.equal(parseCandidate("candidate:1 2 udp 1 10.0.0.1 5 typ host"), null);
});
