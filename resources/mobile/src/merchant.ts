// Phone to phone, the merchant's side: this page makes the offer, shows it as the same QR
// the laptop shows (its own URL with the offer in the fragment), takes the other phone's
// answer through the rendezvous service's reply handle (when a service is there) or
// through its own camera, and runs the cashier's half of the conversation: the code on both
// screens, confirmed by the person; an amount; the other phone's decision, acknowledged.
// The messages, handshake table, dedup and retries are the desktop's (conversation.ts,
// handshake.ts, link.ts): no second protocol.

import timerFacts from "../../protocol/timers.json";
import * as bridge from "./bridge";
import { randomBytes } from "./bytes";
import { type BootstrapRecord, offerText, replyName } from "./codec";
import { decodeAny } from "./compat";
import { Conversation, type Payment } from "./conversation";
import { QrlinkError, refusesPairing } from "./errors";
import { Handshake } from "./handshake";
import { isLoopbackHost } from "./ip";
import { Link, type LinkEvent } from "./link";
import { applyAnswer, checkAnswer, makeOffer, type Offering, REPLY_HANDLE_BYTES } from "./offer";
import { makeQr } from "./qr";
import * as rendezvous from "./rendezvous";
import { Scanner } from "./scanner";
import { iceSettings, offerLifetime, pageUrl, serviceBase } from "./settings";
import * as ui from "./ui";

const AGENT = "qrlink-page/0.1.0";
const POLL_WAIT_S = 25; // one long poll of the reply handle (the service allows up to 30)
const CONNECT_TIMEOUT_MS = timerFacts.connectTimeout.seconds * 1000;
const PEER = "the other phone";

/** One merchant's pairing: an offer, at most one answer, one link. */
interface Sale {
  offering: Offering;
  text: string; // the offer QR's text
  conversation: Conversation;
  answered: boolean;
  link: Link | null;
  scanner: Scanner | null;
  poll: AbortController;
  timers: ReturnType<typeof setTimeout>[];
  over: boolean;
  code: string; // the verification code, once verified
}

let current: Sale | null = null;
let goHome: () => void = () => undefined;

function end(sale: Sale): void {
  sale.over = true;
  sale.poll.abort();
  sale.scanner?.stop();
  sale.scanner = null;
  for (const t of sale.timers) clearTimeout(t);
  sale.link?.close("Closed by the merchant.");
  sale.offering.pc.close();
}

/** End the sale with a message a person understands (and its code, for the host). */
function fail(sale: Sale, title: string, text: string, code: string): void {
  if (sale !== current || sale.over) return;
  end(sale);
  ui.showMessage("ended", title, text, code, ui.button("new-code", "Start again", "approve", () => void startMerchant()));
}

/** "Request a payment": make the offer and show it. `done` goes back to the choices. */
export async function startMerchant(home?: () => void): Promise<void> {
  if (home !== undefined) goHome = home;
  if (current !== null) end(current);
  current = null;
  bridge.setRole("merchant");
  document.body.dataset["tOfferAsked"] = performance.now().toFixed(1);
  delete document.body.dataset["tOfferShown"];
  ui.showMessage("loading", "Preparing a payment code…", "This takes a moment.");
  const params = new URLSearchParams(location.search);
  const service = serviceBase(params, document, location.href);
  const lifetime = offerLifetime(params);
  let offering: Offering;
  try {
    offering = await makeOffer(iceSettings(params), {
      lifetimeS: lifetime,
      nowS: Date.now() / 1000,
      replyHandle: service === null ? null : randomBytes(REPLY_HANDLE_BYTES),
    });
  } catch (exc) {
    const err = exc instanceof QrlinkError ? exc : new QrlinkError("BOOTSTRAP_GENERATION_FAILED", String(exc));
    ui.showMessage("error", "Could not make a payment code", err.message, err.code);
    return;
  }
  const text = offerText(offering.record, pageUrl(location));
  const sale: Sale = {
    offering,
    text,
    conversation: new Conversation(undefined, "offerer"),
    answered: false,
    link: null,
    scanner: null,
    poll: new AbortController(),
    timers: [],
    over: false,
    code: "",
  };
  current = sale;
  showOffer(sale, service !== null);
  const expiresAt = (offering.record.expiresAt ?? 0) * 1000;
  sale.timers.push(
    setTimeout(() => {
      if (!sale.answered) fail(sale, "This payment code has expired", "Nobody answered it in time. Start again for a new code.", "TIMEOUT");
    }, Math.max(0, expiresAt - Date.now())),
  );
  if (service !== null) void pollReply(sale, service);
}

function showOffer(sale: Sale, viaService: boolean): void {
  const qr = makeQr(sale.text);
  document.body.dataset["offerVersion"] = String(qr.version);
  ui.showQr(qr, sale.text, {
    screen: "offer",
    state: "offering",
    label: "Payment code for the other phone",
    instruction: "Let the other phone scan this code",
    actions: [
      ui.button("cancel", "Cancel", "decline", () => {
        end(sale);
        goHome();
      }),
      ui.button("scan-answer", "Scan their answer", "approve", () => void scanAnswer(sale)),
    ],
  });
  ui.setNote(viaService ? "The other phone's answer comes back by itself." : "Then scan the answer code the other phone shows.");
  // The first time only: back from the scanner, the same offer is shown again.
  document.body.dataset["tOfferShown"] ??= performance.now().toFixed(1);
}

/** The reply handle, long-polled until the answer is there, the offer expires or another
 * way brought the answer first. */
async function pollReply(sale: Sale, service: string): Promise<void> {
  const name = replyName(sale.offering.record) as string;
  let failures = 0;
  while (!sale.over && !sale.answered) {
    let token: string | null;
    try {
      token = await rendezvous.lookup(service, name, fetch, POLL_WAIT_S, sale.poll.signal);
    } catch (exc) {
      // The camera still works; say it once the service has failed a few times in a row.
      failures += 1;
      if (failures === 3 && sale.link === null && !sale.answered) ui.setNote(`${(exc as Error).message} Scan the other phone's answer instead.`);
      await new Promise((r) => setTimeout(r, Math.min(4000, 500 * 2 ** failures)));
      continue;
    }
    failures = 0;
    if (token !== null && !sale.over && !sale.answered) {
      document.body.dataset["answerVia"] = "service";
      await takeAnswer(sale, token);
      return;
    }
  }
}

async function scanAnswer(sale: Sale): Promise<void> {
  if (sale.over || sale.answered) return;
  const box = ui.showScanner("Scan the other phone's answer", "Hold the other phone's screen in the frame.", () => {
    sale.scanner?.stop();
    sale.scanner = null;
    if (!sale.over && !sale.answered) showOffer(sale, !sale.poll.signal.aborted && replyName(sale.offering.record) !== null);
  });
  try {
    sale.scanner = await Scanner.open(box, (text) => onScanned(sale, text));
  } catch (exc) {
    const err = exc as QrlinkError;
    ui.setNote(err.message);
    document.body.dataset["scanError"] = err.code ?? "INVALID_ARGUMENT";
  }
}

/** A confirmed code from the camera: the answer to this offer, or a clear word why not
 * (the scanner keeps going). */
function onScanned(sale: Sale, text: string): void {
  if (sale.over || sale.answered) return;
  let record: BootstrapRecord;
  try {
    record = decodeAny(text, { now: Date.now() / 1000, allowLoopback: isLoopbackHost(location.hostname) });
    checkAnswer(sale.offering.record, record);
  } catch (exc) {
    const err = exc instanceof QrlinkError ? exc : new QrlinkError("BOOTSTRAP_PARSE_FAILED", String(exc));
    const refused = Number(document.body.dataset["scanRefused"] ?? "0") + 1;
    document.body.dataset["scanRefused"] = String(refused);
    document.body.dataset["scanRefusedCode"] = err.code;
    ui.setNote(`That is not the answer to this payment code (${err.message}). Scan the code the other phone shows.`);
    return;
  }
  sale.scanner?.stop();
  sale.scanner = null;
  document.body.dataset["answerVia"] = "camera";
  void takeAnswer(sale, text);
}

async function takeAnswer(sale: Sale, text: string): Promise<void> {
  if (sale.answered || sale.over) return;
  let record: BootstrapRecord;
  try {
    record = decodeAny(text, { now: Date.now() / 1000, allowLoopback: isLoopbackHost(location.hostname) });
    checkAnswer(sale.offering.record, record);
  } catch (exc) {
    // From the service: not this offer's answer (a stale or hostile token); keep waiting.
    console.warn(`qrlink: an answer was refused: ${(exc as Error).message}`);
    ui.setNote(`An answer was refused (${(exc as Error).message}).`);
    return;
  }
  sale.answered = true;
  sale.poll.abort();
  ui.showMessage("connecting", "Connecting…", "Connecting to the other phone.");
  try {
    await applyAnswer(sale.offering, record);
  } catch (exc) {
    const err = exc as QrlinkError;
    fail(sale, "Could not connect", err.message, err.code);
    return;
  }
  const pc = sale.offering.pc;
  sale.timers.push(
    setTimeout(() => {
      if (sale.link === null) fail(sale, "Could not connect", "No connection to the other phone was made in time. Make sure both phones are on a network that lets them reach each other, then start again.", "TIMEOUT");
    }, CONNECT_TIMEOUT_MS),
  );
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed" && sale.link === null) {
      fail(sale, "Could not connect", "No network path to the other phone was found. Make sure both are on the same network, then start again.", "ICE_FAILED");
    }
  });
  const { dc } = sale.offering.channel;
  const opened = (): void => {
    if (sale.over || sale !== current) return;
    const hs = new Handshake("offerer", sale.offering.record.fingerprint, record.fingerprint, undefined, undefined, { agent: AGENT });
    const link = new Link(dc, hs, sale.conversation, (ev) => onLinkEvent(sale, ev), undefined, undefined, undefined, PEER);
    sale.link = link;
    link.start(sale.offering.channel.takeEarly());
  };
  if (dc.readyState === "open") opened();
  else dc.addEventListener("open", opened, { once: true });
}

function onLinkEvent(sale: Sale, ev: LinkEvent): void {
  if (sale !== current) return;
  const link = sale.link as Link;
  switch (ev.kind) {
    case "verified":
      sale.code = ev.code;
      bridge.setCode(ev.code);
      document.body.dataset["tVerified"] = performance.now().toFixed(1);
      ui.showConfirmCode(
        ev.code,
        () => {
          sale.conversation.confirmCode();
          askAmount(sale);
        },
        () => {
          link.refuse("VERIFICATION_FAILED", "the merchant saw a different verification code; nothing can be paid on this connection");
        },
      );
      break;
    case "response":
      ui.showResult(ev.payment, () => askAmount(sale), () => {
        end(sale);
        goHome();
      });
      break;
    case "peerError":
      if (refusesPairing(ev.code)) {
        fail(sale, "The connection could not be verified", ev.message, ev.code);
      } else if (document.body.dataset["screen"] === "waiting") {
        ui.setNote(`The other phone said: ${ev.message} (${ev.code})`);
      }
      break;
    case "error":
      ui.noteError(ev.code, ev.message);
      break;
    case "closed":
      onClosed(sale, ev.reason, ev.failure);
      break;
    default:
      break;
  }
}

function askAmount(sale: Sale): void {
  const params = new URLSearchParams(location.search);
  ui.showAmountForm(sale.code, params.get("currency") ?? "EUR", (amount, currency, reference) => {
    const link = sale.link;
    if (link === null || link.closed) return;
    try {
      const payment: Payment = link.request(amount, currency, reference ? { reference } : {});
      document.body.dataset["tRequested"] = performance.now().toFixed(1);
      ui.showWaiting(payment);
    } catch (exc) {
      const err = exc instanceof QrlinkError ? exc : new QrlinkError("MESSAGE_INVALID", String(exc));
      ui.setNote(`${err.message} (${err.code})`);
      document.body.dataset["requestRefused"] = err.code;
    }
  });
}

function onClosed(sale: Sale, reason: string, failure: QrlinkError | null): void {
  if (sale.over) return;
  const payments = [...sale.conversation.payments.values()];
  const open = payments.filter((p) => p.response === null);
  const screen = document.body.dataset["screen"];
  if (screen === "result" && open.length === 0 && failure === null) {
    ui.setNote("The other phone has finished.");
    sale.over = true;
    sale.offering.pc.close();
    return;
  }
  const unpaid = open.length > 0 ? " The payment was not answered: nothing was paid." : "";
  if (failure !== null && failure.code === "TIMEOUT") {
    fail(sale, "The other phone stopped answering", `${failure.message}.${unpaid}`, "TIMEOUT");
  } else if (failure !== null) {
    fail(sale, "The connection failed", `${failure.message}.${unpaid}`, failure.code);
  } else {
    fail(sale, "Disconnected", `${reason}${unpaid}`, "CONNECTION_FAILED");
  }
}
