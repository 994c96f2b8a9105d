// The 6-digit verification code by commit–reveal (protocol.md, Handshake). SHA-256 comes
// from @noble/hashes: a plain-http LAN origin has no crypto.subtle.

import { sha256 } from "@noble/hashes/sha2.js";
import { concat, equalBytes, randomBytes, utf8 } from "./bytes";

export const NONCE_BYTES = 32;
const COMMIT_TAG = utf8("qrlink-commit-v1");
const SAS_TAG = utf8("qrlink-sas-v1");

export const newNonce = (): Uint8Array => randomBytes(NONCE_BYTES);

export const commitment = (nonce: Uint8Array): Uint8Array => sha256(concat(COMMIT_TAG, nonce));

export const commitmentMatches = (commit: Uint8Array, nonce: Uint8Array): boolean =>
  equalBytes(commit, commitment(nonce));

export function sasCode(fpOffer: Uint8Array, fpAnswer: Uint8Array, nonceOffer: Uint8Array, nonceAnswer: Uint8Array): string {
  for (const part of [fpOffer, fpAnswer, nonceOffer, nonceAnswer]) {
    if (part.length !== 32) throw new Error("fingerprints and nonces are 32 bytes each");
  }
  const digest = sha256(concat(SAS_TAG, fpOffer, fpAnswer, nonceOffer, nonceAnswer));
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(digest[i] as number);
  return (v % 1000000n).toString().padStart(6, "0");
}

/** '123456' -> '123 456', easier to read aloud and compare. */
export const formatCode = (code: string): string => `${code.slice(0, 3)} ${code.slice(3)}`;
