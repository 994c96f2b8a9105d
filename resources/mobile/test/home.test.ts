// The answer sent home: where it may go, and what the page learns from the laptop's reply.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { homeUrl, sendHome } from "../src/home";

test("the marker leads only to the page's own origin", () => {
  const here = "http://10.0.0.5:8765/#C75C60";
  assert.equal(homeUrl("answer", here), "http://10.0.0.5:8765/answer");
  assert.equal(homeUrl("/answer", "https://shop.example/q/#X"), "https://shop.example/answer");
  assert.equal(homeUrl(null, here), null);
  assert.equal(homeUrl("", here), null);
  assert.equal(homeUrl("http://evil.example/answer", here), null);
  assert.equal(homeUrl("//evil.example/answer", here), null);
  assert.equal(homeUrl("javascript:alert(1)", here), null);
});

async function withServer(handler: (req: IncomingMessage, res: ServerResponse) => void, run: (url: string) => Promise<void>): Promise<void> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await run(`http://127.0.0.1:${port}/answer`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test("accepted, refused with the laptop's code, or unreachable", async () => {
  const bodies: string[] = [];
  await withServer(
    (req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        bodies.push(`${req.method} ${req.headers["content-type"]} ${body}`);
        if (body.includes("good")) {
          res.writeHead(202, { "Content-Type": "application/json" }).end('{"status":"accepted"}');
        } else if (body.includes("plain")) {
          res.writeHead(500).end("oops");
        } else {
          res.writeHead(403, { "Content-Type": "application/json" }).end('{"error":{"code":"VERIFICATION_FAILED","message":"no"}}');
        }
      });
    },
    async (url) => {
      assert.deepEqual(await sendHome(url, '{"x":"good"}'), { ok: true });
      assert.deepEqual(await sendHome(url, '{"x":"bad"}'), { ok: false, reason: "refused:VERIFICATION_FAILED" });
      assert.deepEqual(await sendHome(url, '{"x":"plain"}'), { ok: false, reason: "refused:HTTP_500" });
    },
  );
  assert.equal(bodies[0], 'POST application/json {"x":"good"}');
  const closed = await sendHome("http://127.0.0.1:9/answer", "{}");
  assert.equal(closed.ok, false);
  assert.match((closed as { reason: string }).reason, /^unreachable:/);
});
