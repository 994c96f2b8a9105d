// The page's flow. With an offer in the URL fragment (or looked up in remote mode, or read
// by the page's own scanner) it is the customer: answer, send the answer home to the laptop
// that served the page or to the offer's reply handle on the rendezvous service (or, when
// neither can work, show the answer QR), connect, verify, and decide the payment. Without
// one it offers the choice: request a payment (merchant.ts: phone to phone, this phone
// offers), scan a payment code, or pay a shop by its handle.

import * as bridge from "./bridge";
import { answerText, type BootstrapRecord, compactPayload, replyName } from "./codec";
import { decodeAny, looksCompat } from "./compat";
import { Conversation, type Payment } from "./conversation";
import { QrlinkError, refusesPairing } from "./errors";
import { applyFallbacks } from "./fallbacks";
import { Handshake } from "./handshake";
import { answerRequest, homeUrl, markerOf, sendHome } from "./home";
import { isLoopbackHost } from "./ip";
import { Link, type LinkEvent } from "./link";
import { startMerchant } from "./merchant";
import { answerOffer } from "./peer";
import { makeQr } from "./qr";
import * as rendezvous from "./rendezvous";
import { Scanner } from "./scanner";
import { iceSettings, serviceBase } from "./settings";
import * as ui from "./ui";

const AGENT = "qrlink-page/0.1.0";
const ANSWER_TTL_MS = 120_000;
// Sent home, no channel yet after this long: show the answer QR for the camera too.
const HOME_WAIT_MS = 2_000;

interface Marks {
  [name: string]: number;
}
const marks: Marks = {};
const mark = (name: string): void => {
  marks[name] = performance.now();
  document.body.dataset[`t${name.charAt(0).toUpperCase()}${name.slice(1)}`] = marks[name]!.toFixed(1);
};

// One conversation per page: a second pairing replays what the cashier has not acknowledged.
const conversation = new Conversation();
interface Session {
  pc: RTCPeerConnection;
  link: Link | null;
  qrShown: boolean;
  other: string; // the other screen, in the page's sentences
}
let current: Session | null = null;

function describeParseError(exc: QrlinkError): [string, string] {
  if (/expired/.test(exc.message)) return ["This code has expired", "Ask for a new code, then scan it again."];
  return ["This code cannot be used", `It is not a valid payment code (${exc.message}). Ask for a new one.`];
}

function decodeOffer(text: string): BootstrapRecord | null {
  try {
    const record = decodeAny(text, { now: Date.now() / 1000, allowLoopback: isLoopbackHost(location.hostname) });
    if (record.kind !== "offer") throw new QrlinkError("BOOTSTRAP_PARSE_FAILED", "this code is an answer, not an offer");
    return record;
  } catch (exc) {
    const err = exc instanceof QrlinkError ? exc : new QrlinkError("BOOTSTRAP_PARSE_FAILED", String(exc));
    const [title, detail] = describeParseError(err);
    ui.showMessage("error", title, detail, err.code);
    return null;
  }
}

/** Remote mode: the service the offer was looked up on, and the relay it handed out. */
interface Remote {
  base: string;
  turn: RTCIceServer[];
}

async function start(offerText: string, remote: Remote | null): Promise<void> {
  bridge.setRole("customer");
  ui.showMessage("loading", "Preparing…", "Reading the payment code.");
  const offer = decodeOffer(offerText);
  if (offer === null) return;
  if (current !== null) {
    current.link?.close("Replaced by a new code.");
    current.pc.close();
  }
  const settings = iceSettings(new URLSearchParams(location.search));
  // The service's relay first: its credentials are fresh, the URL's may be stale.
  const ice = remote === null ? settings : { ...settings, iceServers: [...remote.turn, ...settings.iceServers] };
  let result;
  try {
    result = await answerOffer(offer, ice);
  } catch (exc) {
    const err = exc as QrlinkError;
    ui.showMessage("error", "Could not answer the code", err.message, err.code);
    return;
  }
  const { pc, record, channel } = result;
  const other = peerName(offer, offerText) === "the other phone" ? "the other phone" : "the cashier's screen";
  const session: Session = { pc, link: null, qrShown: false, other };
  current = session;
  const text = answerText(record);
  mark("answerReady");
  // The answer QR: at once when there is no way home, else only when the way home fails.
  const showQr = (reason: string): void => {
    if (current !== session || session.link !== null || session.qrShown) return;
    session.qrShown = true;
    document.body.dataset["fallback"] = reason;
    const qr = makeQr(text);
    ui.showAnswerQr(qr, text, session.other === "the other phone" ? "Show this to the other phone's camera" : undefined);
    mark("qrShown");
    document.body.dataset["answerVersion"] = String(qr.version);
  };
  // The ways back, best first: the offer's reply handle on the rendezvous service (remote
  // mode, or phone to phone from a page the service served), the laptop that served the
  // page (one scan), else the answer QR for the other side's camera.
  const params = new URLSearchParams(location.search);
  const service = remote !== null ? remote.base : serviceBase(params, document, location.href);
  const reply = replyName(offer) !== null && service !== null ? service : null;
  const home = reply === null && remote === null ? homeUrl(markerOf(document), location.href) : null;
  const body = home === null ? null : answerRequest(offer, text);
  let homeTimer: ReturnType<typeof setTimeout> | undefined;
  if (reply !== null) {
    ui.showSending(remote !== null ? "Connecting to the shop…" : "Connecting to the other phone…");
    mark("answerSent");
    homeTimer = setTimeout(() => showQr("no-channel"), HOME_WAIT_MS);
    publishAnswer(reply, offer, text, session, (reason) => {
      clearTimeout(homeTimer);
      showQr(reason);
    });
  } else if (home === null || body === null) {
    if (remote !== null) publishAnswer(remote.base, offer, text, session, () => undefined);
    showQr(home === null ? "no-way-home" : "no-key");
  } else {
    ui.showSending();
    mark("answerSent");
    // Accepted but no channel (UDP blocked, the laptop busy): the camera is the way left.
    homeTimer = setTimeout(() => showQr("no-channel"), HOME_WAIT_MS);
    void sendHome(home, body).then((res) => {
      if (current !== session) return;
      document.body.dataset["home"] = res.ok ? "accepted" : res.reason;
      if (res.ok) {
        mark("answerAccepted");
      } else {
        clearTimeout(homeTimer);
        console.warn(`qrlink: the answer could not go home (${res.reason}); showing its code`);
        showQr(res.reason);
      }
    });
  }
  const expiry = (offer.expiresAt ?? 0) * 1000 - Date.now();
  const deadline = setTimeout(() => {
    if (session.link === null && current === session) {
      clearTimeout(homeTimer);
      pc.close();
      ui.showMessage("ended", "Time is up", "The other side did not connect before the code expired. Ask for a new code.", "TIMEOUT");
    }
  }, Math.max(1000, expiry));
  pc.addEventListener("connectionstatechange", () => {
    if (current !== session) return;
    if (pc.connectionState === "failed" && session.link === null) {
      clearTimeout(deadline);
      clearTimeout(homeTimer);
      ui.showMessage("ended", "Could not connect", "No network path to the other device was found. Make sure both are on the same network, then ask for a new code.", "ICE_FAILED");
    } else if ((pc.connectionState === "failed" || pc.connectionState === "disconnected") && session.link !== null && !session.link.closed) {
      ui.setNote("The connection is unstable…");
    }
  });
  // The cashier may connect before the service has even answered the publish: the channel
  // is watched first and the publish runs beside it, never in front of it.
  const arrived = await channel;
  const { dc } = arrived;
  const opened = (): void => {
    if (current !== session) return;
    clearTimeout(deadline);
    clearTimeout(homeTimer);
    mark("channelOpen");
    ui.showMessage("connecting", "Connected", "Checking the connection with the cashier…");
    const hs = new Handshake("answerer", offer.fingerprint, record.fingerprint, undefined, undefined, { agent: AGENT });
    const link = new Link(dc, hs, conversation, (ev) => onLinkEvent(session, link, ev), undefined, undefined, undefined, peerName(offer, offerText));
    session.link = link;
    link.start(arrived.takeEarly());
  };
  if (dc.readyState === "open") opened();
  else dc.addEventListener("open", opened, { once: true });
}

/** Who made the offer, in the page's sentences: a laptop's compact offer carries a seed
 * (its credentials come from one); a phone's carries the browser's own (offer.ts). The
 * specification's form never carries a seed, and only the laptop writes it. */
const peerName = (offer: BootstrapRecord, text: string): string =>
  offer.seed === null && !looksCompat(compactPayload(text)) ? "the other phone" : "the cashier's device";

/** The answer goes to the reply handle the offer names. The note only speaks while the
 * page still shows the answer; once connected, the connection speaks for itself. */
function publishAnswer(base: string, offer: BootstrapRecord, text: string, session: { link: Link | null }, failed: (reason: string) => void): void {
  const note = (message: string): void => {
    if (current === session && session.link === null) ui.setNote(message);
  };
  const name = replyName(offer);
  if (name === null) {
    note("This shop did not ask for the answer through the service: show the code to the cashier.");
    return;
  }
  rendezvous.publish(base, name, text, ANSWER_TTL_MS).then(
    () => {
      document.body.dataset["home"] = "published";
      note("Answer sent. Connecting…");
    },
    (exc: QrlinkError) => {
      document.body.dataset["home"] = `refused:${exc.code}`;
      if (current !== session || session.link !== null) return;
      failed(`refused:${exc.code}`);
      note(exc.message);
    },
  );
}

let code = "";
let merchant: string | null = null;

function onLinkEvent(session: { pc: RTCPeerConnection; other: string }, link: Link, ev: LinkEvent): void {
  switch (ev.kind) {
    case "verified":
      code = ev.code;
      merchant = ev.merchant;
      bridge.setCode(code);
      mark("verified");
      ui.showVerify(code, merchant, session.other);
      break;
    case "request":
      ui.showRequest(code, ev.payment, merchant, (approve) => {
        mark("responded");
        link.respond(ev.payment.request.messageId, approve);
        ui.showOutcome(ev.payment);
      });
      break;
    case "acknowledged":
      mark("acknowledged");
      ui.showOutcome(ev.payment);
      break;
    case "rtt":
      document.body.dataset["rttMs"] = ev.ms.toFixed(2);
      break;
    case "peerError":
      if (refusesPairing(ev.code)) {
        ui.showMessage("ended", "The connection could not be verified", ev.message, ev.code);
      }
      break;
    case "error":
      ui.noteError(ev.code, ev.message);
      break;
    case "closed":
      session.pc.close();
      // How the channel ended, for whoever looks into a pairing (tests, a host's logs).
      document.body.dataset["lastClose"] = ev.failure?.code ?? "clean";
      onClosed(ev.reason, ev.failure);
      break;
    default:
      break;
  }
}

function onClosed(reason: string, failure: QrlinkError | null): void {
  const state = document.body.dataset["screen"];
  // The other side said why it ended (a refused code, say) before it closed: that
  // sentence stays; the close that follows adds nothing a person could act on.
  if (state === "ended") return;
  const decided = [...conversation.payments.values()].some((p: Payment) => p.response !== null);
  if (failure !== null && failure.code === "TIMEOUT") {
    const who = failure.message.startsWith("the other phone") ? "The other phone" : "The cashier's device";
    if (state === "outcome") ui.setNote(`${who} stopped answering.`);
    else ui.showMessage("ended", `${who} stopped answering`, `${failure.message}. Ask for a new code to start again.`, "TIMEOUT");
  } else if (failure !== null) {
    ui.showMessage("ended", "The connection failed", failure.message, failure.code);
  } else if (state === "outcome" && decided) {
    document.body.dataset["closed"] = "yes";
    ui.setNote("The other side has finished. You can close this page.");
  } else {
    ui.showMessage("ended", "Disconnected", `${reason} Ask for a new code to continue.`, "CONNECTION_FAILED");
  }
}

/** "Scan a payment code": the page's own scanner reads the offer QR shown elsewhere. */
async function scanPaymentCode(): Promise<void> {
  bridge.setRole("customer");
  let scanner: Scanner | null = null;
  const box = ui.showScanner("Scan the payment code", "Hold the code shown by the one asking for the payment in the frame.", () => {
    scanner?.stop();
    choose();
  });
  const onText = (text: string): void => {
    const fragment = text.includes("#") ? text.slice(text.lastIndexOf("#") + 1) : text;
    try {
      const record = decodeAny(fragment, { now: Date.now() / 1000, allowLoopback: isLoopbackHost(location.hostname) });
      if (record.kind !== "offer") throw new QrlinkError("BOOTSTRAP_PARSE_FAILED", "this is an answer, not a payment code");
    } catch (exc) {
      const err = exc instanceof QrlinkError ? exc : new QrlinkError("BOOTSTRAP_PARSE_FAILED", String(exc));
      document.body.dataset["scanRefused"] = String(Number(document.body.dataset["scanRefused"] ?? "0") + 1);
      document.body.dataset["scanRefusedCode"] = err.code;
      ui.setNote(`That is not a payment code (${err.message}).`);
      return;
    }
    scanner?.stop();
    location.hash = fragment; // the hashchange handler answers it, as if the URL had been opened
  };
  try {
    scanner = await Scanner.open(box, onText);
  } catch (exc) {
    const err = exc as QrlinkError;
    ui.setNote(err.message);
    document.body.dataset["scanError"] = err.code ?? "INVALID_ARGUMENT";
  }
}

function choose(): void {
  bridge.setRole(null);
  ui.showChoose({ request: () => void startMerchant(choose), scan: () => void scanPaymentCode(), remote: remoteMode });
}

function remoteMode(): void {
  const params = new URLSearchParams(location.search);
  const base = params.get("rendezvous") ?? location.origin;
  ui.showRemoteForm(base, (handle, serviceBase) => {
    ui.setNote("Looking the shop up…");
    rendezvous
      .lookup(serviceBase, handle)
      .then((token) => {
        if (token === null) {
          ui.setNote("No shop is waiting under this handle. Check it and try again.");
          return;
        }
        return relayFor(serviceBase, handle).then((turn) => start(token, { base: serviceBase, turn }));
      })
      .catch((exc: Error) => ui.setNote(exc.message));
  });
}

/** The service's TURN credentials for this handle (the capability the customer holds),
 * or none: a service without a relay, or one that refuses, still leaves the direct paths
 * and the URL's own settings. data-turn says which it was. */
async function relayFor(base: string, handle: string): Promise<RTCIceServer[]> {
  try {
    const grant = await rendezvous.turnCredentials(base, handle);
    document.body.dataset["turn"] = grant === null ? "none" : "service";
    return grant === null ? [] : grant.servers;
  } catch (exc) {
    const err = exc as QrlinkError;
    document.body.dataset["turn"] = `refused:${err.code ?? "REMOTE_SERVICE_ERROR"}`;
    console.warn(`qrlink: ${err.message}`);
    return [];
  }
}

function main(): void {
  mark("start");
  applyFallbacks();
  const fragment = location.hash.slice(1);
  if (fragment) void start(fragment, null);
  else choose();
  window.addEventListener("hashchange", () => {
    const f = location.hash.slice(1);
    if (f) void start(f, null);
  });
}

main();
