// The page's flow: read the offer from the URL fragment (or look it up in remote mode),
// answer, send the answer home to the laptop that served the page (or, when that cannot
// work, show the answer QR), connect, verify, and run the customer's side of the payment.

import { answerText, type BootstrapRecord, replyName } from "./codec";
import { decodeAny } from "./compat";
import { Conversation, type Payment } from "./conversation";
import { QrlinkError } from "./errors";
import { applyFallbacks } from "./fallbacks";
import { Handshake } from "./handshake";
import { answerRequest, homeUrl, markerOf, sendHome } from "./home";
import { isLoopbackHost } from "./ip";
import { Link, type LinkEvent } from "./link";
import { answerOffer, type IceSettings } from "./peer";
import { makeQr } from "./qr";
import * as rendezvous from "./rendezvous";
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

/** ICE servers from the query string: ?ice=stun:host:port&ice=turn:…&iceUsername=&iceCredential=. */
export function iceSettings(params: URLSearchParams): IceSettings {
  const username = params.get("iceUsername") ?? undefined;
  const credential = params.get("iceCredential") ?? undefined;
  const iceServers: RTCIceServer[] = params.getAll("ice").filter((u) => /^(stuns?|turns?):/.test(u)).map((url) =>
    url.startsWith("turn") ? { urls: url, username, credential } : { urls: url },
  );
  return { iceServers, gatherTimeoutMs: 3000 };
}

// One conversation per page: a second pairing replays what the cashier has not acknowledged.
const conversation = new Conversation();
interface Session {
  pc: RTCPeerConnection;
  link: Link | null;
  qrShown: boolean;
}
let current: Session | null = null;

function describeParseError(exc: QrlinkError): [string, string] {
  if (/expired/.test(exc.message)) return ["This code has expired", "Ask the cashier to show a new code, then scan it again."];
  return ["This code cannot be used", `It is not a valid payment code (${exc.message}). Ask the cashier to show a new one.`];
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

async function start(offerText: string, remote: { base: string } | null): Promise<void> {
  ui.showMessage("loading", "Preparing…", "Reading the cashier's code.");
  const offer = decodeOffer(offerText);
  if (offer === null) return;
  if (current !== null) {
    current.link?.close("Replaced by a new code.");
    current.pc.close();
  }
  const ice = iceSettings(new URLSearchParams(location.search));
  let result;
  try {
    result = await answerOffer(offer, ice);
  } catch (exc) {
    const err = exc as QrlinkError;
    ui.showMessage("error", "Could not answer the code", err.message, err.code);
    return;
  }
  const { pc, record, channel } = result;
  const session: Session = { pc, link: null, qrShown: false };
  current = session;
  const text = answerText(record);
  mark("answerReady");
  // The answer QR: at once when there is no way home, else only when the way home fails.
  const showQr = (reason: string): void => {
    if (current !== session || session.link !== null || session.qrShown) return;
    session.qrShown = true;
    document.body.dataset["fallback"] = reason;
    const qr = makeQr(text);
    ui.showAnswerQr(qr, text);
    mark("qrShown");
    document.body.dataset["answerVersion"] = String(qr.version);
  };
  const home = remote === null ? homeUrl(markerOf(document), location.href) : null;
  const body = home === null ? null : answerRequest(offer, text);
  let homeTimer: ReturnType<typeof setTimeout> | undefined;
  if (home === null || body === null) {
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
      ui.showMessage("ended", "Time is up", "The cashier did not connect before the code expired. Ask for a new code.", "TIMEOUT");
    }
  }, Math.max(1000, expiry));
  pc.addEventListener("connectionstatechange", () => {
    if (current !== session) return;
    if (pc.connectionState === "failed" && session.link === null) {
      clearTimeout(deadline);
      clearTimeout(homeTimer);
      ui.showMessage("ended", "Could not connect", "No network path to the cashier's device was found. Make sure both are on the same network, then ask for a new code.", "ICE_FAILED");
    } else if ((pc.connectionState === "failed" || pc.connectionState === "disconnected") && session.link !== null && !session.link.closed) {
      ui.setNote("The connection is unstable…");
    }
  });
  // The cashier may connect before the service has even answered the publish: the channel
  // is watched first and the publish runs beside it, never in front of it.
  if (remote !== null) publishAnswer(remote.base, offer, text, session);
  const arrived = await channel;
  const { dc } = arrived;
  const opened = (): void => {
    if (current !== session) return;
    clearTimeout(deadline);
    clearTimeout(homeTimer);
    mark("channelOpen");
    ui.showMessage("connecting", "Connected", "Checking the connection with the cashier…");
    const hs = new Handshake("answerer", offer.fingerprint, record.fingerprint, undefined, undefined, { agent: AGENT });
    const link = new Link(dc, hs, conversation, (ev) => onLinkEvent(session, link, ev));
    session.link = link;
    link.start(arrived.takeEarly());
  };
  if (dc.readyState === "open") opened();
  else dc.addEventListener("open", opened, { once: true });
}

/** Remote mode: the answer goes to the reply handle the offer names. The note only speaks
 * while the page still shows the answer; once connected, the connection speaks for itself. */
function publishAnswer(base: string, offer: BootstrapRecord, text: string, session: { link: Link | null }): void {
  const note = (message: string): void => {
    if (current === session && session.link === null) ui.setNote(message);
  };
  const name = replyName(offer);
  if (name === null) {
    note("This shop did not ask for the answer through the service: show the code to the cashier.");
    return;
  }
  rendezvous.publish(base, name, text, ANSWER_TTL_MS).then(
    () => note("Answer sent to the shop. Connecting…"),
    (exc: Error) => note(exc.message),
  );
}

let code = "";
let merchant: string | null = null;

function onLinkEvent(session: { pc: RTCPeerConnection }, link: Link, ev: LinkEvent): void {
  switch (ev.kind) {
    case "verified":
      code = ev.code;
      merchant = ev.merchant;
      mark("verified");
      ui.showVerify(code, merchant);
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
      if (ev.code === "VERIFICATION_FAILED" || ev.code === "PROTOCOL_VERSION_UNSUPPORTED") {
        ui.showMessage("ended", "The connection could not be verified", ev.message, ev.code);
      }
      break;
    case "error":
      // Nothing the customer can act on, but never silent: the console and the page's
      // data attributes keep the last one for whoever looks into a failed pairing.
      console.warn(`qrlink: ${ev.code}: ${ev.message}`);
      document.body.dataset["lastError"] = `${ev.code}: ${ev.message}`;
      break;
    case "closed":
      session.pc.close();
      onClosed(ev.reason, ev.failure);
      break;
    default:
      break;
  }
}

function onClosed(reason: string, failure: QrlinkError | null): void {
  const state = document.body.dataset["state"];
  const decided = [...conversation.payments.values()].some((p: Payment) => p.response !== null);
  if (failure !== null && failure.code === "TIMEOUT") {
    if (state === "outcome") ui.setNote("The cashier's device stopped answering.");
    else ui.showMessage("ended", "The cashier's device stopped answering", `${failure.message}. Ask the cashier to start again.`, "TIMEOUT");
  } else if (failure !== null) {
    ui.showMessage("ended", "The connection failed", failure.message, failure.code);
  } else if (state === "outcome" && decided) {
    document.body.dataset["closed"] = "yes";
    ui.setNote("The cashier has finished. You can close this page.");
  } else {
    ui.showMessage("ended", "Disconnected", `${reason} Ask the cashier for a new code to continue.`, "CONNECTION_FAILED");
  }
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
        return start(token, { base: serviceBase });
      })
      .catch((exc: Error) => ui.setNote(exc.message));
  });
}

function main(): void {
  mark("start");
  applyFallbacks();
  const fragment = location.hash.slice(1);
  if (fragment) void start(fragment, null);
  else remoteMode();
  window.addEventListener("hashchange", () => {
    const f = location.hash.slice(1);
    if (f) void start(f, null);
  });
}

main();
