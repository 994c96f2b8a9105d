// The browser's RTCPeerConnection in the offering role (phone to phone: this page is the
// merchant). The same record and codec as the laptop's offer (codec.ts, bootstrap-format.md):
// the browser's own offer SDP is reduced to a record, which the other phone rebuilds with
// sdp.ts's template, exactly as it rebuilds an offer made by aiortc. Two differences from the
// laptop's offer, both within the format: a browser picks its own ICE credentials (no web
// API sets them), so the record carries them with a random offer id instead of a seed
// (about ten bytes more), and without a seed nothing can key an answer sent home, which a
// merchant's phone has no server for anyway: the answer comes back through the rendezvous
// service's reply handle, or through this phone's camera.

import { type BootstrapRecord, MAX_CANDIDATES } from "./codec";
import { randomBytes, toHex } from "./bytes";
import { QrlinkError } from "./errors";
import { type ArrivedChannel, bufferEarly, CHANNEL_LABEL, type IceSettings, waitGathered } from "./peer";
import { rebuild, reduce } from "./sdp";

export const REPLY_HANDLE_BYTES = 8;

export interface Offering {
  pc: RTCPeerConnection;
  record: BootstrapRecord;
  channel: ArrivedChannel; // created by this side, buffered from the first instant
}

export interface OfferOptions {
  lifetimeS: number;
  nowS: number; // Unix seconds
  replyHandle: Uint8Array | null; // where the answer is to be published, when a service is there
  relayOnly?: boolean;
}

/** An offer record from the browser's own offer: what a QR carries, nothing more. */
export function recordFromOffer(sdp: string, opts: OfferOptions, offerId: Uint8Array = randomBytes(4)): BootstrapRecord {
  const reduced = reduce(sdp);
  if (reduced.setup !== "actpass") {
    throw new QrlinkError("BOOTSTRAP_GENERATION_FAILED", `the browser's offer has DTLS setup ${reduced.setup}, not actpass`);
  }
  const relayOnly = opts.relayOnly ?? false;
  const candidates = reduced.candidates.filter((c) => !relayOnly || c.type === "relay").slice(0, MAX_CANDIDATES);
  return {
    kind: "offer",
    offerId,
    ufrag: reduced.ufrag,
    pwd: reduced.pwd,
    fingerprint: reduced.fingerprint,
    candidates,
    expiresAt: Math.floor(opts.nowS) + Math.round(opts.lifetimeS),
    setup: "actpass",
    relayOnly,
    replyHandle: opts.replyHandle,
    seed: null,
  };
}

export async function makeOffer(ice: IceSettings, opts: OfferOptions): Promise<Offering> {
  if (typeof RTCPeerConnection === "undefined") {
    throw new QrlinkError("BOOTSTRAP_GENERATION_FAILED", "this browser cannot make direct connections (WebRTC is missing or turned off)");
  }
  const pc = new RTCPeerConnection({ iceServers: ice.iceServers, iceTransportPolicy: opts.relayOnly ? "relay" : "all" });
  try {
    // The offerer opens the one ordered, reliable channel (protocol.md).
    const channel = bufferEarly(pc.createDataChannel(CHANNEL_LABEL, { ordered: true }));
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await waitGathered(pc, ice.gatherTimeoutMs);
    const record = recordFromOffer(pc.localDescription?.sdp ?? offer.sdp ?? "", opts);
    return { pc, record, channel };
  } catch (exc) {
    pc.close();
    if (exc instanceof QrlinkError) throw exc;
    throw new QrlinkError("BOOTSTRAP_GENERATION_FAILED", `could not make a payment code: ${(exc as Error).message}`);
  }
}

/** The other phone's answer, if it answers this offer; BOOTSTRAP_PARSE_FAILED otherwise. */
export function checkAnswer(offer: BootstrapRecord, answer: BootstrapRecord): void {
  if (answer.kind !== "answer") throw new QrlinkError("BOOTSTRAP_PARSE_FAILED", "this is a payment code, not the answer to one");
  if (toHex(answer.offerId) !== toHex(offer.offerId)) {
    throw new QrlinkError("BOOTSTRAP_PARSE_FAILED", "this answer is for another payment code");
  }
}

export async function applyAnswer(offering: Offering, answer: BootstrapRecord): Promise<void> {
  checkAnswer(offering.record, answer);
  try {
    await offering.pc.setRemoteDescription({ type: "answer", sdp: rebuild(answer) });
  } catch (exc) {
    throw new QrlinkError("CONNECTION_FAILED", `the browser refused the other phone's answer: ${(exc as Error).message}`);
  }
}
