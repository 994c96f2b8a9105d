// The browser's RTCPeerConnection in the answering role: apply the rebuilt offer SDP,
// answer, wait for gathering, reduce the answer to a record. Always an explicit
// iceServers list (empty unless configured).

import { type BootstrapRecord, MAX_CANDIDATES } from "./codec";
import { QrlinkError } from "./errors";
import { rebuild, reduce } from "./sdp";

export const CHANNEL_LABEL = "qrlink";

export interface IceSettings {
  iceServers: RTCIceServer[];
  gatherTimeoutMs: number;
}

/** The data channel the cashier opened, with what it sent before the page attached its link. */
export interface ArrivedChannel {
  dc: RTCDataChannel;
  takeEarly(): string[];
}

export interface AnswerResult {
  pc: RTCPeerConnection;
  record: BootstrapRecord;
  channel: Promise<ArrivedChannel>;
}

const EARLY_LIMIT = 64; // a peer cannot grow this before the handshake

/** A browser drops what arrives on a channel with no handler. Whatever the cashier sends
 * before the page's link is attached (its heartbeat today; anything a later protocol
 * version sends first) is kept from the first instant until the link takes it, in order. */
export function bufferEarly(dc: RTCDataChannel): ArrivedChannel {
  let early: string[] = [];
  const keep = (ev: MessageEvent): void => {
    if (early.length < EARLY_LIMIT) early.push(String(ev.data));
  };
  dc.onmessage = keep;
  return {
    dc,
    takeEarly(): string[] {
      if (dc.onmessage === keep) dc.onmessage = null; // never the link's own handler
      const taken = early;
      early = [];
      return taken;
    },
  };
}

export function waitGathered(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const timer = setTimeout(done, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      pc.removeEventListener("icecandidate", onCandidate);
      resolve();
    }
    function check(): void {
      if (pc.iceGatheringState === "complete") done();
    }
    function onCandidate(ev: RTCPeerConnectionIceEvent): void {
      if (ev.candidate === null) done();
    }
    pc.addEventListener("icegatheringstatechange", check);
    pc.addEventListener("icecandidate", onCandidate);
  });
}

export async function answerOffer(offer: BootstrapRecord, ice: IceSettings): Promise<AnswerResult> {
  if (typeof RTCPeerConnection === "undefined") {
    throw new QrlinkError("CONNECTION_FAILED", "this browser cannot make direct connections (WebRTC is missing or turned off)");
  }
  const pc = new RTCPeerConnection({
    iceServers: ice.iceServers,
    iceTransportPolicy: offer.relayOnly ? "relay" : "all",
  });
  const channel = new Promise<ArrivedChannel>((resolve) => {
    pc.addEventListener("datachannel", (ev) => {
      if (ev.channel.label === CHANNEL_LABEL) resolve(bufferEarly(ev.channel));
    });
  });
  try {
    await pc.setRemoteDescription({ type: "offer", sdp: rebuild(offer) });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await waitGathered(pc, ice.gatherTimeoutMs);
    const sdp = pc.localDescription?.sdp ?? answer.sdp ?? "";
    const reduced = reduce(sdp);
    let candidates = reduced.candidates.filter((c) => !offer.relayOnly || c.type === "relay");
    candidates = candidates.slice(0, MAX_CANDIDATES);
    const record: BootstrapRecord = {
      kind: "answer",
      offerId: offer.offerId,
      ufrag: reduced.ufrag,
      pwd: reduced.pwd,
      fingerprint: reduced.fingerprint,
      candidates,
      expiresAt: null,
      setup: reduced.setup === "actpass" ? "active" : reduced.setup,
      relayOnly: offer.relayOnly,
      replyHandle: null,
      seed: null,
    };
    return { pc, record, channel };
  } catch (exc) {
    pc.close();
    if (exc instanceof QrlinkError) throw exc;
    throw new QrlinkError("BOOTSTRAP_GENERATION_FAILED", `could not answer the cashier's code: ${(exc as Error).message}`);
  }
}
