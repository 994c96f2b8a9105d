// One scan: the answer goes back to the laptop that served this page (protocol.md, "The
// answer sent home"). The laptop's page server marks the page it serves with
// <meta name="qrlink-answer" content="answer">; a page served from anywhere else has no
// such marker and no way home, and shows its answer QR as before. The MAC key is derived
// from the offer's seed under its own label; HMAC-SHA256 comes from @noble/hashes because
// a plain-http LAN origin has no crypto.subtle.

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concat, toHex, utf8 } from "./bytes";
import type { BootstrapRecord } from "./codec";

const KEY_LABEL = utf8("qrlink-answer-key-v1");
const MAC_LABEL = utf8("qrlink-answer-v1");
export const MARKER = "qrlink-answer";
const REQUEST_TIMEOUT_MS = 10_000;

export const answerKey = (seed: Uint8Array): Uint8Array => sha256(concat(KEY_LABEL, seed));

export const answerMac = (key: Uint8Array, offerId: Uint8Array, answer: string): Uint8Array =>
  hmac(sha256, key, concat(MAC_LABEL, offerId, utf8(answer)));

/** The request body for an offer, or null when the offer carries no seed (the
 * specification's compatibility form): then nothing can prove this page read the QR. */
export function answerRequest(offer: BootstrapRecord, answer: string): string | null {
  if (offer.seed === null) return null;
  const mac = answerMac(answerKey(offer.seed), offer.offerId, answer);
  return JSON.stringify({ offerId: toHex(offer.offerId), answer, mac: toHex(mac) });
}

/** The marker's content in this document, if the page server put one there. */
export const markerOf = (doc: Document): string | null =>
  doc.querySelector(`meta[name="${MARKER}"]`)?.getAttribute("content") ?? null;

/** Where the answer goes: the marker's path on this page's own origin, or null. */
export function homeUrl(path: string | null, here: string): string | null {
  if (!path) return null;
  let url: URL;
  try {
    url = new URL(path, here);
  } catch {
    return null;
  }
  // Only ever the origin the page came from: the marker cannot send the answer elsewhere.
  return url.origin === new URL(here).origin && /^https?:$/.test(url.protocol) ? url.href : null;
}

export type HomeResult = { ok: true } | { ok: false; reason: string };

/** POST the answer; a refusal names the laptop's error code, a failure what went wrong. */
export async function sendHome(url: string, body: string): Promise<HomeResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
      signal: abort.signal,
    });
    if (response.ok) return { ok: true };
    let code = `HTTP_${response.status}`;
    try {
      const doc = (await response.json()) as { error?: { code?: unknown } };
      if (typeof doc.error?.code === "string") code = doc.error.code;
    } catch {
      /* the status says enough */
    }
    return { ok: false, reason: `refused:${code}` };
  } catch (exc) {
    return { ok: false, reason: `unreachable:${(exc as Error).name}` };
  } finally {
    clearTimeout(timer);
  }
}
