// Remote mode's relay: what the page makes of the service's GET /turn answers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { QrlinkError } from "../src/errors";
import { type FetchLike, turnCredentials } from "../src/rendezvous";

const answering = (status: number, body: unknown, seen: string[] = []): FetchLike =>
  async (url: string) => {
    seen.push(url);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };

test("turn: the service's credentials become one ICE server, asked for with the handle", async () => {
  const seen: string[] = [];
  const body = { username: "1800000300:qrlink-ab", credential: "c2VjcmV0", ttl: 300, uris: ["turn:10.0.0.1:3478?transport=udp", "https://not-turn"] };
  const grant = await turnCredentials("http://10.0.0.1:8787/", "far-shop", answering(200, body, seen));
  assert.deepEqual(seen, ["http://10.0.0.1:8787/turn?handle=far-shop"]);
  assert.deepEqual(grant, { servers: [{ urls: ["turn:10.0.0.1:3478?transport=udp"], username: body.username, credential: body.credential }], ttlS: 300 });
});

test("turn: a service without a relay says 404, and the page goes on without one", async () => {
  assert.equal(await turnCredentials("http://svc", "far-shop", answering(404, { error: { code: "NOT_FOUND", message: "none" } })), null);
});

test("turn: a refusal, a broken answer, or no service at all is an error with a code", async () => {
  const codeOf = async (fetchFn: FetchLike): Promise<string> => {
    try {
      await turnCredentials("http://svc", "far-shop", fetchFn);
      return "OK";
    } catch (exc) {
      assert.ok(exc instanceof QrlinkError);
      return `${exc.code}: ${exc.message}`;
    }
  };
  assert.match(await codeOf(answering(403, { error: { code: "FORBIDDEN", message: "Nothing is published under this handle now." } })), /^REMOTE_SERVICE_ERROR: .*Nothing is published/);
  assert.match(await codeOf(answering(200, { username: "u", credential: "c", uris: [] })), /^REMOTE_SERVICE_ERROR: .*incomplete/);
  assert.match(await codeOf(async () => Promise.reject(new TypeError("Failed to fetch"))), /^REMOTE_SERVICE_ERROR: .*Failed to fetch/);
  assert.match(await codeOf(answering(200, {})), /^REMOTE_SERVICE_ERROR/);
});

test("turn: a handle that is not one is refused before anything is sent", async () => {
  const seen: string[] = [];
  await assert.rejects(turnCredentials("http://svc", "a b", answering(200, {}, seen)), (exc: unknown) => exc instanceof QrlinkError && exc.code === "INVALID_ARGUMENT");
  assert.deepEqual(seen, []);
});
