// The page's screens. Text from the other side goes in with textContent only. The current
// screen is in <body data-screen> (for tests); what a host needs to know, the state and
// the code, bridge.ts reports with every screen.

import { askForBrightness, type HostState, report } from "./bridge";
import type { Payment } from "./conversation";
import { draw, type QrMatrix } from "./qr";
import { formatCode } from "./sas";

export type Screen =
  | "loading"
  | "error"
  | "sending"
  | "answer"
  | "connecting"
  | "verify"
  | "request"
  | "outcome"
  | "ended"
  | "remote"
  // phone to phone
  | "choose"
  | "offer"
  | "scan"
  | "confirm"
  | "amount"
  | "waiting"
  | "result";

type Child = Node | string;

export function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

const root = (): HTMLElement => document.getElementById("app") as HTMLElement;
let resizeHandler: (() => void) | null = null;

interface Report {
  error?: string;
  amount?: string;
  currency?: string;
}

function show(screen: Screen, state: HostState, children: Child[], extra: Report = {}): void {
  if (resizeHandler !== null) {
    window.removeEventListener("resize", resizeHandler);
    resizeHandler = null;
  }
  document.body.dataset["screen"] = screen;
  root().replaceChildren(...children);
  report(state, extra);
}

const paymentReport = (p: Payment): Report => ({ amount: String(p.request.payload["amount"]), currency: String(p.request.payload["currency"]) });

const outcomeState = (p: Payment): HostState => (p.status === "approved" ? "paid" : p.status === "declined" ? "declined" : "requested");

export function setNote(text: string): void {
  const el = document.getElementById("note");
  if (el !== null) el.textContent = text;
}

/** A link error: nothing the person can act on, but never silent. The console and the
 * page's data attributes keep the last one for whoever looks into a failed pairing. */
export function noteError(code: string, message: string): void {
  console.warn(`qrlink: ${code}: ${message}`);
  document.body.dataset["lastError"] = `${code}: ${message}`;
}

/** A title and a sentence; with an error code the page has failed (the host hears it). */
export function showMessage(screen: Screen, title: string, text: string, code?: string, ...more: Child[]): void {
  const attrs: Record<string, string> = { id: "message", class: "message" };
  if (code) attrs["data-code"] = code;
  const state: HostState = screen === "loading" ? "loading" : screen === "connecting" ? "connecting" : code ? "failed" : "closed";
  show(screen, state, [h("section", attrs, h("h1", { id: "title" }, title), h("p", { id: "detail" }, text), ...more)], code ? { error: code } : {});
}

/** The answer is on its way over the network; nothing to show a camera yet. */
export function showSending(title = "Connecting to the till…"): void {
  show("sending", "answering", [
    h("section", { id: "message", class: "message" },
      h("h1", { id: "title" }, title),
      h("p", { id: "detail" }, "Keep this page open."),
      h("p", { id: "note", class: "note" }),
    ),
  ]);
}

export interface QrScreen {
  screen: "answer" | "offer";
  state: HostState;
  label: string;
  instruction: string;
  actions?: Child[];
}

/** A QR code as large as the screen allows, with its one line of instruction. */
export function showQr(qr: QrMatrix, text: string, how: QrScreen): void {
  const canvas = h("canvas", { id: "qr", role: "img", "aria-label": how.label }) as HTMLCanvasElement;
  canvas.dataset["version"] = String(qr.version);
  canvas.dataset["text"] = text;
  const line = h("p", { id: "instruction", class: "instruction" }, how.instruction);
  const note = h("p", { id: "note", class: "note" });
  const actions = how.actions && how.actions.length > 0 ? [h("div", { class: "buttons qr-actions" }, ...how.actions)] : [];
  show(how.screen, how.state, [h("section", { class: "qr-screen" }, h("div", { class: "qr-box", id: "qr-box" }, canvas), line, note, ...actions)]);
  const redraw = (): void => {
    const box = document.getElementById("qr-box");
    if (box === null) return;
    const side = Math.min(box.clientWidth, box.clientHeight);
    draw(canvas, qr, side, window.devicePixelRatio || 1);
  };
  redraw();
  resizeHandler = redraw;
  window.addEventListener("resize", redraw);
  askForBrightness();
}

/** The customer's answer QR, for the other side's camera. */
export function showAnswerQr(qr: QrMatrix, text: string, instruction = "Show this to the cashier's camera"): void {
  showQr(qr, text, { screen: "answer", state: "answering", label: "Answer code for the cashier", instruction });
}

export function showVerify(code: string, merchant: string | null, other = "the cashier's screen"): void {
  show("verify", "verifying", [
    h("section", { class: "message" },
      h("h1", {}, merchant ? `Connected to ${merchant}` : "Connected"),
      h("p", {}, `Check that ${other} shows the same code:`),
      h("p", { id: "code", class: "code", "data-code": code }, formatCode(code)),
      h("p", { id: "note", class: "note" }, "Waiting for the payment request…"),
    ),
  ]);
}

export function showRequest(code: string, p: Payment, merchantName: string | null, decide: (approve: boolean) => void): void {
  const pl = p.request.payload;
  const merchant = (pl["merchant"] as string | undefined) ?? merchantName ?? "The cashier";
  const rows: Child[] = [
    h("p", { class: "small" }, "Verification code ", h("span", { id: "code", "data-code": code }, formatCode(code))),
    h("p", { id: "merchant", class: "merchant" }, merchant),
    h("p", { class: "amount" }, h("span", { id: "amount" }, String(pl["amount"])), " ", h("span", { id: "currency" }, String(pl["currency"]))),
  ];
  if (pl["reference"]) rows.push(h("p", { class: "small" }, "Reference ", h("span", { id: "reference" }, String(pl["reference"]))));
  if (pl["description"]) rows.push(h("p", { id: "description", class: "small" }, String(pl["description"])));
  const approve = h("button", { id: "approve", class: "approve", type: "button" }, "Approve");
  const decline = h("button", { id: "decline", class: "decline", type: "button" }, "Decline");
  const once = (value: boolean) => () => {
    (approve as HTMLButtonElement).disabled = true;
    (decline as HTMLButtonElement).disabled = true;
    decide(value);
  };
  approve.addEventListener("click", once(true));
  decline.addEventListener("click", once(false));
  show("request", "requested", [h("section", { class: "message" }, ...rows, h("div", { class: "buttons" }, decline, approve), h("p", { id: "note", class: "note" }))], paymentReport(p));
}

export function showOutcome(p: Payment): void {
  const pl = p.request.payload;
  const what = `${String(pl["amount"])} ${String(pl["currency"])}`;
  const title = p.status === "approved" ? `You approved ${what}` : `You declined ${what}`;
  const ack = p.acknowledgment !== null;
  const sec = h("section", { class: `message ${p.status}`, id: "outcome", "data-status": p.status, "data-acknowledged": ack ? "yes" : "no" },
    h("h1", { id: "title" }, title),
    h("p", { id: "ack" }, ack ? "The cashier has confirmed it." : "Waiting for the cashier to confirm…"),
    h("p", { id: "note", class: "note" }),
  );
  show("outcome", outcomeState(p), [sec], paymentReport(p));
}

export function showRemoteForm(defaultBase: string, submit: (handle: string, base: string) => void): void {
  const handle = h("input", { id: "handle", name: "handle", autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: "" }) as HTMLInputElement;
  const base = h("input", { id: "service", name: "service", type: "url", value: defaultBase }) as HTMLInputElement;
  const form = h("form", { id: "remote-form", class: "message" },
    h("h1", {}, "Pay a shop remotely"),
    h("label", { for: "handle" }, "The shop's handle"), handle,
    h("label", { for: "service" }, "Service address"), base,
    h("button", { id: "lookup", type: "submit", class: "approve" }, "Connect"),
    h("p", { id: "note", class: "note" }),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit(handle.value, base.value);
  });
  show("remote", "remote", [form]);
}

export function button(id: string, label: string, cls: string, onClick: () => void): HTMLButtonElement {
  const b = h("button", { id, class: cls, type: "button" }, label) as HTMLButtonElement;
  b.addEventListener("click", onClick);
  return b;
}

// --- phone to phone ---------------------------------------------------------------------

export interface Choices {
  request(): void;
  scan(): void;
  remote(): void;
}

/** No code in the URL: this phone asks for a payment, or pays one shown elsewhere. */
export function showChoose(choose: Choices): void {
  show("choose", "choosing", [
    h("section", { class: "message choices" },
      h("h1", {}, "qrlink"),
      button("choose-request", "Request a payment", "approve", choose.request),
      button("choose-scan", "Scan a payment code", "approve", choose.scan),
      button("choose-remote", "Pay a shop by its handle", "decline", choose.remote),
      h("p", { id: "note", class: "note" }),
    ),
  ]);
}

/** The camera's preview, for the scanner to fill; returns the box it goes in. */
export function showScanner(title: string, hint: string, cancel: () => void): HTMLElement {
  const box = h("div", { id: "viewfinder", class: "viewfinder" });
  show("scan", "scanning", [
    h("section", { class: "qr-screen" },
      h("p", { id: "instruction", class: "instruction" }, title),
      box,
      h("p", { id: "note", class: "note" }, hint),
      h("div", { class: "buttons qr-actions" }, button("scan-cancel", "Cancel", "decline", cancel)),
    ),
  ]);
  return box;
}

/** Merchant: both phones show the code; the person says whether they match. */
export function showConfirmCode(code: string, match: () => void, differ: () => void): void {
  show("confirm", "verifying", [
    h("section", { class: "message" },
      h("h1", {}, "Connected"),
      h("p", {}, "Does the other phone show the same code?"),
      h("p", { id: "code", class: "code", "data-code": code }, formatCode(code)),
      h("div", { class: "buttons" }, button("codes-differ", "They differ", "decline", differ), button("codes-match", "Same code", "approve", match)),
      h("p", { id: "note", class: "note" }),
    ),
  ]);
}

/** Merchant: the amount to request (checked before it leaves: currency, its decimals). */
export function showAmountForm(code: string, currency: string, submit: (amount: string, currency: string, reference: string) => void): void {
  const amount = h("input", { id: "amount-input", name: "amount", inputmode: "decimal", autocomplete: "off", required: "", placeholder: "0.00" }) as HTMLInputElement;
  const cur = h("input", { id: "currency-input", name: "currency", autocapitalize: "characters", maxlength: "3", value: currency }) as HTMLInputElement;
  const ref = h("input", { id: "reference-input", name: "reference", autocomplete: "off", maxlength: "64" }) as HTMLInputElement;
  const form = h("form", { id: "amount-form", class: "message" },
    h("p", { class: "small" }, "Verification code ", h("span", { id: "code", "data-code": code }, formatCode(code))),
    h("h1", {}, "Request a payment"),
    h("label", { for: "amount-input" }, "Amount"), amount,
    h("label", { for: "currency-input" }, "Currency"), cur,
    h("label", { for: "reference-input" }, "Reference (optional)"), ref,
    h("button", { id: "request", type: "submit", class: "approve" }, "Request"),
    h("p", { id: "note", class: "note" }),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit(amount.value.trim(), cur.value.trim().toUpperCase(), ref.value.trim());
  });
  show("amount", "verified", [form]);
}

const what = (p: Payment): string => `${String(p.request.payload["amount"])} ${String(p.request.payload["currency"])}`;

/** Merchant: the request is with the other phone. */
export function showWaiting(p: Payment): void {
  show("waiting", "requested", [
    h("section", { id: "message", class: "message", "data-request": p.request.messageId },
      h("h1", { id: "title" }, `Requested ${what(p)}`),
      h("p", { id: "detail" }, "Waiting for the other phone to approve or decline…"),
      h("p", { id: "note", class: "note" }),
    ),
  ], paymentReport(p));
}

/** Merchant: the other phone decided; the acknowledgment went back by itself. */
export function showResult(p: Payment, again: () => void, done: () => void): void {
  const approved = p.status === "approved";
  show("result", outcomeState(p), [
    h("section", { class: `message ${p.status}`, id: "outcome", "data-status": p.status },
      h("h1", { id: "title" }, approved ? `Approved: ${what(p)}` : `Declined: ${what(p)}`),
      h("p", { id: "detail" }, approved ? "The other phone approved the payment." : "The other phone declined the payment."),
      h("div", { class: "buttons" }, button("done", "Done", "decline", done), button("again", "New payment", "approve", again)),
      h("p", { id: "note", class: "note" }),
    ),
  ], paymentReport(p));
}
