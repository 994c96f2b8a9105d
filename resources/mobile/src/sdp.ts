// Rebuild a full data-channel SDP from a record, and reduce a browser's SDP to the fields
// a record keeps (same template and rules as qrlink_desktop/core/sdp.py).

import type { BootstrapRecord, Candidate, CandidateType, Setup } from "./codec";
import { CANDIDATE_TYPES } from "./codec";
import { generationFailed } from "./errors";

export const SCTP_PORT = 5000;
export const MAX_MESSAGE_SIZE = 262144;
const TYPE_PREF: Record<CandidateType, number> = { host: 126, prflx: 110, srflx: 100, relay: 0 };

export interface ReducedSdp {
  ufrag: string;
  pwd: string;
  fingerprint: Uint8Array;
  setup: Setup;
  candidates: Candidate[];
  dropped: string[];
}

export function candidatePriority(type: CandidateType, index: number): number {
  return TYPE_PREF[type] * 2 ** 24 + (65535 - index) * 256 + 255;
}

export function candidateLine(c: Candidate, index: number): string {
  let line = `candidate:${index + 1} 1 udp ${candidatePriority(c.type, index)} ${c.address} ${c.port} typ ${c.type}`;
  if (c.type !== "host") line += " raddr 0.0.0.0 rport 0";
  return line;
}

export function formatFingerprint(fp: Uint8Array): string {
  return Array.from(fp, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(":");
}

const isMdns = (c: Candidate): boolean => c.address.endsWith(".local");

export function rebuild(record: BootstrapRecord): string {
  const def = record.candidates.find((c) => !isMdns(c) && !c.address.includes(":"));
  const port = def ? def.port : 9;
  const cAddr = def ? def.address : "0.0.0.0";
  let sessionId = 0;
  for (const b of record.offerId) sessionId = sessionId * 256 + b;
  const lines = [
    "v=0",
    `o=- ${sessionId || 1} ${record.kind === "answer" ? 2 : 1} IN IP4 127.0.0.1`,
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "a=msid-semantic: WMS",
    `m=application ${port} UDP/DTLS/SCTP webrtc-datachannel`,
    `c=IN IP4 ${cAddr}`,
    `a=ice-ufrag:${record.ufrag}`,
    `a=ice-pwd:${record.pwd}`,
    `a=fingerprint:sha-256 ${formatFingerprint(record.fingerprint)}`,
    `a=setup:${record.setup}`,
    "a=mid:0",
    `a=sctp-port:${SCTP_PORT}`,
    `a=max-message-size:${MAX_MESSAGE_SIZE}`,
    ...record.candidates.map((c, i) => `a=${candidateLine(c, i)}`),
  ];
  // aiortc fails ICE at once on an empty list ended this way, and an mDNS name may still
  // be resolving: only a non-empty, name-free list is declared complete.
  if (record.candidates.length > 0 && !record.candidates.some(isMdns)) lines.push("a=end-of-candidates");
  return lines.join("\r\n") + "\r\n";
}

/** A candidate from an `a=candidate:` value; null for what a record does not carry. */
export function parseCandidate(value: string): Candidate | null {
  let v = value.trim();
  if (v.startsWith("a=")) v = v.slice(2);
  if (v.startsWith("candidate:")) v = v.slice("candidate:".length);
  const parts = v.split(/\s+/);
  if (parts.length < 8 || parts[6] !== "typ") throw generationFailed(`malformed candidate ${JSON.stringify(v)}`);
  const [, component, transport, , address, port, , typ] = parts as [string, string, string, string, string, string, string, string];
  if (component !== "1" || transport.toLowerCase() !== "udp") return null;
  if (!(CANDIDATE_TYPES as readonly string[]).includes(typ)) throw generationFailed(`unknown candidate type ${JSON.stringify(typ)}`);
  if (!/^[0-9]+$/.test(port)) throw generationFailed(`candidate port ${JSON.stringify(port)} is not a number`);
  return { type: typ as CandidateType, address: address.toLowerCase(), port: Number(port) };
}

export function reduce(sdp: string, extraCandidates: string[] = []): ReducedSdp {
  let ufrag: string | null = null;
  let pwd: string | null = null;
  let setup: string | null = null;
  let fingerprint: Uint8Array | null = null;
  const candidates: Candidate[] = [];
  const dropped: string[] = [];
  const lines = sdp
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  for (const c of extraCandidates) lines.push(`a=${c.replace(/^a=/, "")}`);
  for (const line of lines) {
    if (!line.startsWith("a=")) continue;
    const body = line.slice(2);
    const colon = body.indexOf(":");
    const key = colon < 0 ? body : body.slice(0, colon);
    const value = colon < 0 ? "" : body.slice(colon + 1);
    if (key === "ice-ufrag" && ufrag === null) ufrag = value;
    else if (key === "ice-pwd" && pwd === null) pwd = value;
    else if (key === "setup" && setup === null) setup = value;
    else if (key === "fingerprint" && fingerprint === null) {
      const space = value.indexOf(" ");
      const algo = space < 0 ? value : value.slice(0, space);
      if (algo.toLowerCase() === "sha-256") {
        const hex = value.slice(space + 1).replace(/:/g, "");
        if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2) throw generationFailed("the sha-256 fingerprint is not hex");
        fingerprint = Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
      }
    } else if (key === "candidate") {
      const cand = parseCandidate(value);
      if (cand === null) dropped.push(`${value} (not UDP component 1)`);
      else if (!candidates.some((c) => c.type === cand.type && c.address === cand.address && c.port === cand.port)) candidates.push(cand);
    }
  }
  if (!ufrag || !pwd) throw generationFailed("the SDP has no ICE username fragment or password");
  if (fingerprint === null || fingerprint.length !== 32) throw generationFailed("the SDP has no sha-256 DTLS fingerprint");
  if (setup !== "actpass" && setup !== "active" && setup !== "passive") throw generationFailed(`the SDP has DTLS setup ${JSON.stringify(setup)}`);
  return { ufrag, pwd, fingerprint, setup, candidates, dropped };
}
