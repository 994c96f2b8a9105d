// The specification's literal bootstrap form: base64 of (zstd-compressed) JSON with the
// SDP, the candidates and metadata (qrlink_desktop/core/compat.py). Accepted wherever a
// compact code is; decoded by rebuilding a record and running it through the compact
// packer, so one set of strict checks serves both forms.

import { decompress } from "fzstd";
import { type BootstrapRecord, compactPayload, type DecodeOptions, decodeCompact, MAX_CANDIDATES, pack, unpack } from "./codec";
import { parseFailed, QrlinkError } from "./errors";
import { candidateLine, rebuild, reduce } from "./sdp";

export const MAX_COMPAT_TEXT = 16 * 1024;
const MAX_JSON_BYTES = 16 * 1024;
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Base64 has lower-case letters, '+' or '='; a compact payload never does. */
export const looksCompat = (text: string): boolean => /[a-z+=]/.test(text);

function base64ToBytes(text: string): Uint8Array {
  let t = text.replace(/-/g, "+").replace(/_/g, "/");
  t += "=".repeat((4 - (t.length % 4)) % 4);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t)) throw parseFailed("this is neither a qrlink code nor a base64 token");
  const bin = atob(t);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function inflate(raw: Uint8Array): Uint8Array {
  // Decompress into a bounded buffer: fzstd stops at its end instead of growing. JSON text
  // holds no NUL byte, so the document ends at the first zero; a full buffer is too much.
  const out = new Uint8Array(MAX_JSON_BYTES + 1);
  let buf: Uint8Array;
  try {
    buf = decompress(raw, out);
  } catch {
    throw parseFailed("the token's compressed data is damaged");
  }
  const end = buf.indexOf(0);
  if (end < 0) throw parseFailed("the token's JSON is too large");
  return buf.subarray(0, end);
}

type Doc = { [key: string]: unknown };
const field = <T>(doc: Doc, key: string, check: (v: unknown) => v is T): T => {
  const v = doc[key];
  if (!check(v)) throw parseFailed(`the token's field ${JSON.stringify(key)} is missing or of the wrong type`);
  return v;
};
const isStr = (v: unknown): v is string => typeof v === "string";
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isObj = (v: unknown): v is Doc => typeof v === "object" && v !== null && !Array.isArray(v);
const isArr = (v: unknown): v is unknown[] => Array.isArray(v);

export function decodeCompat(text: string, opts: DecodeOptions): BootstrapRecord {
  const t = text.trim();
  if (t.length > MAX_COMPAT_TEXT) throw parseFailed("the token is too long");
  let raw = base64ToBytes(t);
  if (ZSTD_MAGIC.every((b, i) => raw[i] === b)) raw = inflate(raw);
  if (raw.length > MAX_JSON_BYTES) throw parseFailed("the token's JSON is too large");
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    throw parseFailed("the token is not valid JSON");
  }
  if (!isObj(doc) || doc["v"] !== 1) throw parseFailed("the token is not a version 1 qrlink bootstrap document");
  const kind = field(doc, "type", isStr);
  if (kind !== "offer" && kind !== "answer") throw parseFailed("the token's type must be offer or answer");
  const sdpText = field(doc, "sdp", isStr);
  const cands = field(doc, "candidates", isArr);
  if (sdpText.length > 8192 || cands.length > MAX_CANDIDATES) throw parseFailed("the token is too large");
  if (!cands.every((c) => isStr(c) && c.length <= 256)) throw parseFailed("the token's candidates must be short strings");
  const meta = field(doc, "metadata", isObj);
  const offerHex = field(meta, "offerId", isStr);
  if (!/^[0-9a-fA-F]{8}$/.test(offerHex)) throw parseFailed("the token's offerId must be 8 hex digits");
  let reduced;
  try {
    reduced = reduce(sdpText, cands as string[]);
  } catch (exc) {
    throw parseFailed(`the token's SDP cannot be used: ${(exc as Error).message}`);
  }
  const reply = meta["replyTo"];
  let replyHandle: Uint8Array | null = null;
  if (reply !== undefined && reply !== null) {
    if (!isStr(reply) || !/^r-[0-9a-fA-F]{16}$/.test(reply)) throw parseFailed("the token's replyTo is malformed");
    replyHandle = Uint8Array.from(reply.slice(2).match(/../g) ?? [], (h) => parseInt(h, 16));
  }
  const record: BootstrapRecord = {
    kind,
    offerId: Uint8Array.from(offerHex.match(/../g) ?? [], (h) => parseInt(h, 16)),
    ufrag: reduced.ufrag,
    pwd: reduced.pwd,
    fingerprint: reduced.fingerprint,
    candidates: reduced.candidates,
    expiresAt: kind === "offer" ? Math.floor(field(meta, "expiresAt", isInt) / 1000) : null,
    setup: kind === "offer" ? "actpass" : reduced.setup === "actpass" ? "active" : reduced.setup,
    relayOnly: meta["relayOnly"] === true,
    replyHandle,
    seed: null,
  };
  let packed: Uint8Array;
  try {
    packed = pack(record);
  } catch (exc) {
    throw parseFailed(`the token cannot be used: ${(exc as QrlinkError).message}`);
  }
  return unpack(packed, opts);
}

/** The uncompressed compatibility form (for tests and tools; the page answers compactly). */
export function encodeCompat(record: BootstrapRecord, createdAtMs: number): string {
  const sdp = rebuild(record).split("\r\n").filter((l) => !l.startsWith("a=candidate")).join("\r\n");
  const metadata: Doc = {
    offerId: Array.from(record.offerId, (b) => b.toString(16).padStart(2, "0")).join(""),
    createdAt: createdAtMs,
    relayOnly: record.relayOnly,
  };
  if (record.expiresAt !== null) metadata["expiresAt"] = record.expiresAt * 1000;
  if (record.replyHandle !== null) metadata["replyTo"] = `r-${Array.from(record.replyHandle, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  const doc = { v: 1, type: record.kind, sdp, candidates: record.candidates.map(candidateLine), metadata };
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Any bootstrap text: a compact code (URL, `QL:` text, payload) or the compatibility form. */
export function decodeAny(text: string, opts: DecodeOptions): BootstrapRecord {
  const payload = compactPayload(text);
  return looksCompat(payload) ? decodeCompat(payload, opts) : decodeCompact(text, opts);
}
