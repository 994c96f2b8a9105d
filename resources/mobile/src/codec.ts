// The compact bootstrap record (resources/protocol/bootstrap-format.md): pack, unpack,
// credential derivation and the QR texts. The same vector file tests this and the Python
// codec (qrlink_desktop/core/bootstrap.py). Decoding is hostile-input safe: size cap first,
// strict lengths, reserved bits zero, at most 8 candidates, refused addresses, expiry.

import { sha256 } from "@noble/hashes/sha2.js";
import * as alnum from "./alnum";
import { concat, utf8 } from "./bytes";
import { generationFailed, parseFailed } from "./errors";
import * as ip from "./ip";

export const FORMAT_VERSION = 1;
export const MAX_CANDIDATES = 8;
export const MAX_TEXT_CHARS = 2048;
export const MAX_OFFER_LIFETIME = 24 * 3600;
export const ANSWER_PREFIX = "QL:";
const SEED_BYTES = 16;
const OFFER_ID_BYTES = 4;
const FINGERPRINT_BYTES = 32;
const REPLY_BYTES = 8;
export const ICE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const UFRAG_MIN = 4;
const PWD_MIN = 22;
const KIND_BIT = 0x10;
const RELAY_BIT = 0x08;
const REPLY_BIT = 0x04;
const SPECIAL_BIT = 0x02;
// Credentials are lower-case hex, 4 bits a character (bootstrap-format.md).
const HEX_BIT = 0x01;

export type Kind = "offer" | "answer";
export type CandidateType = "host" | "srflx" | "prflx" | "relay";
export const CANDIDATE_TYPES: readonly CandidateType[] = ["host", "srflx", "prflx", "relay"];
export type Setup = "actpass" | "active" | "passive";

export interface Candidate {
  type: CandidateType;
  address: string; // IPv4, IPv6 (as Python prints it) or "<uuid>.local"
  port: number;
}

export interface BootstrapRecord {
  kind: Kind;
  offerId: Uint8Array; // 4 bytes
  ufrag: string;
  pwd: string;
  fingerprint: Uint8Array; // 32 bytes, sha-256 of the DTLS certificate
  candidates: Candidate[];
  expiresAt: number | null; // offers only: Unix seconds
  setup: Setup;
  relayOnly: boolean;
  replyHandle: Uint8Array | null; // 8 bytes: remote mode's answer slot
  seed: Uint8Array | null; // offers: source of id, ufrag and pwd
}

export interface DecodeOptions {
  now: number; // Unix seconds
  allowLoopback?: boolean;
  checkExpiry?: boolean;
}

/** The reply handle as a rendezvous username, `r-<16 hex>`. */
export function replyName(record: BootstrapRecord): string | null {
  if (record.replyHandle === null) return null;
  let h = "";
  for (const b of record.replyHandle) h += b.toString(16).padStart(2, "0");
  return `r-${h}`;
}

// --- credentials ------------------------------------------------------------------------

function bitsToIceChars(data: Uint8Array, count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) {
    let v = 0;
    for (let bit = 6 * i; bit < 6 * i + 6; bit++) {
      v = (v << 1) | (((data[bit >> 3] as number) >> (7 - (bit & 7))) & 1);
    }
    out += ICE_CHARS.charAt(v);
  }
  return out;
}

export function deriveCredentials(seed: Uint8Array): { offerId: Uint8Array; ufrag: string; pwd: string } {
  if (seed.length !== SEED_BYTES) throw generationFailed("a credential seed must be 16 bytes");
  const h = sha256(concat(utf8("qrlink-creds-v1"), seed));
  return {
    offerId: h.slice(0, 4),
    ufrag: bitsToIceChars(h.slice(4, 7), 4),
    pwd: bitsToIceChars(h.slice(7, 24), 22),
  };
}

const HEX_CHARS = "0123456789abcdef";
const isHex = (ufrag: string, pwd: string): boolean => /^[0-9a-f]*$/.test(ufrag + pwd);

/** Lengths byte, then the characters: 4 bits each when all are lower-case hex (the header
 * says so; Firefox's credentials are), else 6-bit ice-char indices. */
function packCreds(ufrag: string, pwd: string): Uint8Array {
  if (!(ufrag.length >= UFRAG_MIN && ufrag.length <= UFRAG_MIN + 15 && pwd.length >= PWD_MIN && pwd.length <= PWD_MIN + 15)) {
    throw generationFailed(`ICE credentials of ${ufrag.length}/${pwd.length} characters do not fit the compact record`);
  }
  const chars = ufrag + pwd;
  const [width, alphabet] = isHex(ufrag, pwd) ? [4, HEX_CHARS] : [6, ICE_CHARS];
  const nbytes = Math.ceil((chars.length * width) / 8);
  const out = new Uint8Array(1 + nbytes);
  out[0] = ((ufrag.length - UFRAG_MIN) << 4) | (pwd.length - PWD_MIN);
  let bit = 0;
  for (const c of chars) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw generationFailed("ICE credentials contain a character outside ice-char");
    for (let k = width - 1; k >= 0; k--, bit++) {
      if ((v >> k) & 1) out[1 + (bit >> 3)] = (out[1 + (bit >> 3)] as number) | (0x80 >> (bit & 7));
    }
  }
  return out;
}

function unpackCreds(buf: Uint8Array, pos: number, hexed: boolean): [string, string, number] {
  if (pos >= buf.length) throw parseFailed("the record ends before the ICE credentials");
  const ulen = ((buf[pos] as number) >> 4) + UFRAG_MIN;
  const plen = ((buf[pos] as number) & 0x0f) + PWD_MIN;
  const count = ulen + plen;
  const width = hexed ? 4 : 6;
  const nbytes = Math.ceil((count * width) / 8);
  const chunk = buf.slice(pos + 1, pos + 1 + nbytes);
  if (chunk.length !== nbytes) throw parseFailed("the record ends inside the ICE credentials");
  for (let bit = count * width; bit < nbytes * 8; bit++) {
    if (((chunk[bit >> 3] as number) >> (7 - (bit & 7))) & 1) throw parseFailed("the ICE credentials have non-zero padding");
  }
  let chars = "";
  if (hexed) {
    for (let i = 0; i < count; i++) chars += HEX_CHARS.charAt(((chunk[i >> 1] as number) >> (i & 1 ? 0 : 4)) & 0x0f);
  } else {
    chars = bitsToIceChars(chunk, count);
  }
  return [chars.slice(0, ulen), chars.slice(ulen), pos + 1 + nbytes];
}

// --- candidates -------------------------------------------------------------------------

function packCandidate(c: Candidate): Uint8Array {
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 0xffff) throw generationFailed(`candidate port ${c.port} is out of range`);
  let kind: number;
  let addr: Uint8Array | null;
  if (ip.isMdnsName(c.address)) {
    kind = 2;
    addr = ip.parseUuid(c.address);
  } else if ((addr = ip.parseIpv4(c.address)) !== null) {
    kind = 0;
  } else if ((addr = ip.parseIpv6(c.address)) !== null) {
    kind = 1;
  } else {
    throw generationFailed(`candidate address ${JSON.stringify(c.address)} cannot be packed`);
  }
  const head = (CANDIDATE_TYPES.indexOf(c.type) << 6) | (kind << 4);
  return concat(Uint8Array.of(head), addr, Uint8Array.of(c.port >> 8, c.port & 0xff));
}

function unpackCandidate(buf: Uint8Array, pos: number, allowLoopback: boolean): [Candidate, number] {
  const head = buf[pos] as number;
  if (head & 0x0f) throw parseFailed("a candidate has reserved bits set");
  const type = CANDIDATE_TYPES[head >> 6] as CandidateType;
  const akind = (head >> 4) & 0x03;
  const size = akind === 0 ? 4 : akind === 1 || akind === 2 ? 16 : -1;
  if (size < 0) throw parseFailed("a candidate has an unknown address kind");
  const body = buf.slice(pos + 1, pos + 1 + size + 2);
  if (body.length !== size + 2) throw parseFailed("the record ends inside a candidate");
  const raw = body.slice(0, size);
  const port = ((body[size] as number) << 8) | (body[size + 1] as number);
  if (port === 0) throw parseFailed("a candidate has port 0");
  let address: string;
  if (akind === 2) {
    address = `${ip.formatUuid(raw)}.local`;
  } else {
    const why = ip.refusal(raw, allowLoopback);
    if (why !== null) throw parseFailed(why);
    address = akind === 0 ? ip.formatIpv4(raw) : ip.formatIpv6(raw);
  }
  return [{ type, address, port }, pos + 1 + size + 2];
}

// --- record -----------------------------------------------------------------------------

export function pack(record: BootstrapRecord): Uint8Array {
  if (record.fingerprint.length !== FINGERPRINT_BYTES) throw generationFailed("the DTLS fingerprint must be a 32-byte sha-256 digest");
  if (record.candidates.length > MAX_CANDIDATES) throw generationFailed(`more than ${MAX_CANDIDATES} candidates`);
  if (record.replyHandle !== null && record.replyHandle.length !== REPLY_BYTES) throw generationFailed("a reply handle must be 8 bytes");
  const offer = record.kind === "offer";
  if (offer && record.setup !== "actpass") throw generationFailed("an offer's DTLS setup must be actpass");
  if (!offer && record.setup === "actpass") throw generationFailed("an answer's DTLS setup must be active or passive");
  const derived = offer && record.seed !== null;
  const parts: Uint8Array[] = [];
  if (derived && record.seed !== null) {
    const d = deriveCredentials(record.seed);
    if (toKey(d.offerId) !== toKey(record.offerId) || d.ufrag !== record.ufrag || d.pwd !== record.pwd) {
      throw generationFailed("the offer's id and credentials do not match its seed");
    }
    parts.push(record.seed);
  } else {
    if (record.offerId.length !== OFFER_ID_BYTES) throw generationFailed("an offer id must be 4 bytes");
    parts.push(record.offerId, packCreds(record.ufrag, record.pwd));
  }
  const special = offer ? derived : record.setup === "passive";
  const header =
    (FORMAT_VERSION << 5) |
    (offer ? 0 : KIND_BIT) |
    (record.relayOnly ? RELAY_BIT : 0) |
    (record.replyHandle !== null ? REPLY_BIT : 0) |
    (special ? SPECIAL_BIT : 0) |
    (!derived && isHex(record.ufrag, record.pwd) ? HEX_BIT : 0);
  if (offer) {
    const e = record.expiresAt;
    if (e === null || !Number.isInteger(e) || e <= 0 || e >= 2 ** 32) throw generationFailed("an offer needs an expiry time");
    parts.push(Uint8Array.of((e >>> 24) & 0xff, (e >>> 16) & 0xff, (e >>> 8) & 0xff, e & 0xff));
  }
  parts.push(record.fingerprint);
  if (record.replyHandle !== null) parts.push(record.replyHandle);
  for (const c of record.candidates) parts.push(packCandidate(c));
  return concat(Uint8Array.of(header), ...parts);
}

const toKey = (b: Uint8Array): string => Array.from(b).join(",");

export function unpack(buf: Uint8Array, opts: DecodeOptions): BootstrapRecord {
  const allowLoopback = opts.allowLoopback ?? false;
  const checkExpiry = opts.checkExpiry ?? true;
  if (buf.length === 0) throw parseFailed("the record is empty");
  const header = buf[0] as number;
  if (header >> 5 !== FORMAT_VERSION) throw parseFailed(`format version ${header >> 5} is not supported (this page reads version 1)`);
  const kind: Kind = header & KIND_BIT ? "answer" : "offer";
  const special = (header & SPECIAL_BIT) !== 0;
  let pos = 1;
  let seed: Uint8Array | null = null;
  let offerId: Uint8Array;
  let ufrag: string;
  let pwd: string;
  if (kind === "offer" && special) {
    if (header & HEX_BIT) throw parseFailed("an offer with a credential seed carries no credentials to be hex");
    seed = buf.slice(pos, pos + SEED_BYTES);
    if (seed.length !== SEED_BYTES) throw parseFailed("the record ends inside the credential seed");
    pos += SEED_BYTES;
    ({ offerId, ufrag, pwd } = deriveCredentials(seed));
  } else {
    offerId = buf.slice(pos, pos + OFFER_ID_BYTES);
    if (offerId.length !== OFFER_ID_BYTES) throw parseFailed("the record ends inside the offer id");
    [ufrag, pwd, pos] = unpackCreds(buf, pos + OFFER_ID_BYTES, (header & HEX_BIT) !== 0);
  }
  let expiresAt: number | null = null;
  if (kind === "offer") {
    const raw = buf.slice(pos, pos + 4);
    if (raw.length !== 4) throw parseFailed("the record ends inside the expiry time");
    expiresAt = (((raw[0] as number) << 24) >>> 0) + ((raw[1] as number) << 16) + ((raw[2] as number) << 8) + (raw[3] as number);
    pos += 4;
    if (checkExpiry && expiresAt <= opts.now) throw parseFailed("this offer has expired; ask for a new QR code");
    if (checkExpiry && expiresAt > opts.now + MAX_OFFER_LIFETIME) throw parseFailed("this offer claims to be valid for more than a day");
  }
  const fingerprint = buf.slice(pos, pos + FINGERPRINT_BYTES);
  if (fingerprint.length !== FINGERPRINT_BYTES) throw parseFailed("the record ends inside the DTLS fingerprint");
  pos += FINGERPRINT_BYTES;
  let replyHandle: Uint8Array | null = null;
  if (header & REPLY_BIT) {
    replyHandle = buf.slice(pos, pos + REPLY_BYTES);
    if (replyHandle.length !== REPLY_BYTES) throw parseFailed("the record ends inside the reply handle");
    pos += REPLY_BYTES;
  }
  const candidates: Candidate[] = [];
  while (pos < buf.length) {
    if (candidates.length === MAX_CANDIDATES) throw parseFailed(`the record has more than ${MAX_CANDIDATES} candidates`);
    let c: Candidate;
    [c, pos] = unpackCandidate(buf, pos, allowLoopback);
    candidates.push(c);
  }
  const relayOnly = (header & RELAY_BIT) !== 0;
  if (relayOnly && candidates.some((c) => c.type !== "relay")) throw parseFailed("a relay-only record carries a non-relay candidate");
  const setup: Setup = kind === "offer" ? "actpass" : special ? "passive" : "active";
  return { kind, offerId, ufrag, pwd, fingerprint, candidates, expiresAt, setup, relayOnly, replyHandle, seed };
}

// --- QR text ----------------------------------------------------------------------------

/** The page URL with scheme and host upper-cased, so an IP-address URL is QR alphanumeric. */
export function qrUrlBase(pageUrl: string): string {
  const at = pageUrl.indexOf("://");
  if (at < 0) throw generationFailed(`page URL ${JSON.stringify(pageUrl)} has no scheme`);
  if (pageUrl.includes("#")) throw generationFailed("page URL must not have a fragment; the offer goes there");
  const rest = pageUrl.slice(at + 3);
  const slash = rest.indexOf("/");
  const host = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash);
  return `${pageUrl.slice(0, at).toUpperCase()}://${host.toUpperCase()}${path}`;
}

export function offerText(record: BootstrapRecord, pageUrl: string): string {
  if (record.kind !== "offer") throw generationFailed("offerText needs an offer record");
  return `${qrUrlBase(pageUrl)}#${alnum.encode(pack(record))}`;
}

export function answerText(record: BootstrapRecord): string {
  if (record.kind !== "answer") throw generationFailed("answerText needs an answer record");
  return ANSWER_PREFIX + alnum.encode(pack(record));
}

/** The base-41 part of an offer URL, an answer text or a bare payload. */
export function compactPayload(text: string): string {
  const t = text.trim();
  if (t.length > MAX_TEXT_CHARS) throw parseFailed(`the code holds ${t.length} characters; a qrlink code has at most 2048`);
  const hash = t.lastIndexOf("#");
  if (hash >= 0) return t.slice(hash + 1);
  if (t.toUpperCase().startsWith(ANSWER_PREFIX)) return t.slice(ANSWER_PREFIX.length);
  return t;
}

export function decodeCompact(text: string, opts: DecodeOptions): BootstrapRecord {
  const payload = compactPayload(text);
  let raw: Uint8Array;
  try {
    raw = alnum.decode(payload);
  } catch (exc) {
    throw parseFailed(`this is not a qrlink code (${(exc as Error).message})`);
  }
  return unpack(raw, opts);
}

