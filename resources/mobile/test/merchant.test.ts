// Phone to phone, without a browser: the page's own offer is the laptop's record (the
// browser-made offers of bootstrap-vectors.json, which the Python codec packs too), and
// the merchant's half of the conversation talks to the customer's half over a pair of fake
// channels: the same code, a payment confirmed, requested, decided and acknowledged, and
// the desktop's dedup rules (nothing decided twice).
import assert from "node:assert/strict";
import { test } from "node:test";
import vectors from "../../protocol/bootstrap-vectors.json";
import { fromHex, toHex } from "../src/bytes";
import { decodeCompact, offerText, pack } from "../src/codec";
import { Conversation } from "../src/conversation";
import { Handshake } from "../src/handshake";
import { DEFAULT_TIMERS, Link, type LinkEvent } from "../src/link";
import { make, toJson } from "../src/messages";
import { checkAnswer, recordFromOffer } from "../src/offer";
import { rebuild } from "../src/sdp";
import { offerLifetime, serviceBase } from "../src/settings";
import { FakeChannel } from "./fake_channel";
import { code } from "./support";

const now = vectors.decodeNow;
const fpOffer = new Uint8Array(32).fill(7);
const fpAnswer = new Uint8Array(32).fill(9);
const T = 1_800_000_000_000;

for (const v of vectors.browserOffers) {
  test(`the page's own offer: ${v.name}`, () => {
    const replyHandle = v.replyHandle === null ? null : fromHex(v.replyHandle);
    const record = recordFromOffer(v.sdp, { lifetimeS: 300, nowS: now, replyHandle }, fromHex(v.offerId));
    assert.equal(toHex(pack(record)), v.packedHex);
    assert.equal(offerText(record, "http://192.168.1.20:8787/"), v.text);
    assert.deepEqual(record.candidates, v.candidates);
    assert.equal(record.seed, null);
    const decoded = decodeCompact(v.text, { now });
    assert.equal(decoded.ufrag, record.ufrag);
    const sdp = rebuild(decoded);
    assert.ok(sdp.includes(`a=ice-pwd:${record.pwd}\r\n`) && sdp.includes("a=setup:actpass\r\n"));
  });
}

test("an answer is checked against the offer it claims to answer", () => {
  const v = vectors.browserOffers[0] as (typeof vectors.browserOffers)[number];
  const offer = recordFromOffer(v.sdp, { lifetimeS: 300, nowS: now, replyHandle: null }, fromHex("0ff3c0de"));
  const answer = { ...offer, kind: "answer" as const, setup: "active" as const, expiresAt: null };
  assert.equal(code(() => checkAnswer(offer, answer)), "OK");
  assert.equal(code(() => checkAnswer(offer, { ...answer, offerId: fromHex("00000001") })), "BOOTSTRAP_PARSE_FAILED");
  assert.equal(code(() => checkAnswer(offer, offer)), "BOOTSTRAP_PARSE_FAILED");
});

test("settings: the offer's lifetime within the specification's bounds; the service from the marker", () => {
  assert.equal(offerLifetime(new URLSearchParams("")), 300);
  assert.equal(offerLifetime(new URLSearchParams("lifetime=1")), 2);
  assert.equal(offerLifetime(new URLSearchParams("lifetime=99999")), 900);
  assert.equal(offerLifetime(new URLSearchParams("lifetime=x")), 300);
  const doc = (content: string | null) =>
    ({ querySelector: () => (content === null ? null : { getAttribute: () => content }) }) as unknown as Document;
  assert.equal(serviceBase(new URLSearchParams(""), doc("."), "http://10.0.0.1:8787/"), "http://10.0.0.1:8787");
  assert.equal(serviceBase(new URLSearchParams(""), doc(null), "http://10.0.0.1:8765/"), null);
  assert.equal(serviceBase(new URLSearchParams("rendezvous=https://svc"), doc(null), "http://x/"), "https://svc");
});


/** The merchant's and the customer's links over two fake channels, delivered by pump(). */
function pair() {
  const wa = new FakeChannel();
  const wb = new FakeChannel();
  const ea: LinkEvent[] = [];
  const eb: LinkEvent[] = [];
  const timers = { ...DEFAULT_TIMERS, pingInterval: 60_000 };
  const merchant = new Conversation(undefined, "offerer");
  const a = new Link(wa, new Handshake("offerer", fpOffer, fpAnswer, undefined, undefined, { merchant: "Stall" }), merchant, (e) => ea.push(e), timers, undefined, undefined, "the other phone");
  const b = new Link(wb, new Handshake("answerer", fpOffer, fpAnswer), new Conversation(), (e) => eb.push(e), timers);
  let ia = 0;
  let ib = 0;
  const pump = (): void => {
    while (ia < wa.sent.length || ib < wb.sent.length) {
      while (ia < wa.sent.length) wb.deliver(wa.sent[ia++] as string);
      while (ib < wb.sent.length) wa.deliver(wb.sent[ib++] as string);
    }
  };
  return { wa, wb, ea, eb, a, b, merchant, pump };
}

test("merchant and customer: one code, confirmed, a request approved and acknowledged", () => {
  const { ea, eb, a, b, merchant, pump, wa } = pair();
  a.start();
  b.start();
  pump();
  const va = ea.find((e) => e.kind === "verified");
  const vb = eb.find((e) => e.kind === "verified");
  assert.ok(va?.kind === "verified" && vb?.kind === "verified");
  assert.equal(va.code, vb.code);
  assert.equal(vb.merchant, "Stall");
  // The person has not compared the codes yet: no payment may be requested.
  assert.equal(code(() => a.request("3.20", "EUR")), "NOT_VERIFIED");
  merchant.confirmCode();
  assert.equal(code(() => a.request("3.205", "EUR")), "MESSAGE_INVALID"); // EUR has two decimals
  const payment = a.request("3.20", "EUR", { reference: "stall-1" });
  assert.deepEqual(merchant.unanswered().map((e) => e.messageId), [payment.request.messageId]);
  pump();
  const asked = eb.find((e) => e.kind === "request");
  assert.ok(asked?.kind === "request" && asked.payment.request.payload["reference"] === "stall-1");
  b.respond(payment.request.messageId, true);
  pump();
  const decided = ea.find((e) => e.kind === "response");
  assert.ok(decided?.kind === "response" && decided.payment.status === "approved");
  assert.ok(eb.some((e) => e.kind === "acknowledged"));
  assert.deepEqual(merchant.unanswered(), []);
  // The customer's response again (a replay after a lost channel): the identical
  // acknowledgment, no second decision.
  const response = decided.payment.response;
  assert.ok(response !== null && decided.payment.acknowledgment !== null);
  const acks = wa.sent.length;
  a.receive(toJson(response));
  assert.equal(wa.sent[acks], toJson(decided.payment.acknowledgment));
  // A different decision for the same request changes nothing: the first one stands.
  const other = make("payment_response", { requestId: payment.request.messageId, status: "declined" }, T);
  a.receive(toJson(other));
  assert.equal(decided.payment.status, "approved");
  assert.equal(ea.filter((e) => e.kind === "response").length, 1);
  assert.equal(wa.sent[wa.sent.length - 1], toJson(decided.payment.acknowledgment));
});

test("merchant: a message only a merchant sends is refused from the other side", () => {
  const { ea, a, b, merchant, pump, wa } = pair();
  a.start();
  b.start();
  pump();
  merchant.confirmCode();
  const before = wa.sent.length;
  a.receive(toJson(make("payment_request", { amount: "1.00", currency: "EUR" }, T)));
  const reply = JSON.parse(wa.sent[before] as string);
  assert.equal(reply.type, "error");
  assert.equal(reply.payload.code, "MESSAGE_INVALID");
  assert.ok(!ea.some((e) => e.kind === "request"));
  // Unknown request ids are refused too, never turned into a payment.
  a.receive(toJson(make("payment_response", { requestId: "nope-00000001", status: "approved" }, T)));
  assert.equal(JSON.parse(wa.sent[wa.sent.length - 1] as string).payload.code, "MESSAGE_INVALID");
  assert.equal(merchant.payments.size, 0);
});

test("merchant: codes that differ end the pairing, and the customer is told", () => {
  const { eb, a, b, pump } = pair();
  a.start();
  b.start();
  pump();
  a.refuse("VERIFICATION_FAILED", "the merchant saw a different verification code");
  pump();
  const told = eb.find((e) => e.kind === "peerError");
  assert.ok(told?.kind === "peerError" && told.code === "VERIFICATION_FAILED");
  assert.ok(a.closed);
});

test("only the merchant requests and confirms; only the customer decides", () => {
  const customer = new Conversation();
  assert.equal(code(() => customer.requestPayment("1.00", "EUR", T)), "INVALID_ARGUMENT");
  assert.equal(code(() => customer.confirmCode()), "INVALID_ARGUMENT");
  const merchant = new Conversation(undefined, "offerer");
  assert.equal(code(() => merchant.confirmCode()), "NOT_VERIFIED"); // nothing to confirm yet
  assert.equal(code(() => merchant.respond("x", true, T)), "INVALID_ARGUMENT");
});
