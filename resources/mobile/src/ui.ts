// The page's screens. Text from the other side goes in with textContent only. The current
// screen is mirrored in <body data-state> for tests and WebView hosts.

import type { Payment } from "./conversation";
import { draw, type QrMatrix } from "./qr";
import { formatCode } from "./sas";

export type Screen = "loading" | "error" | "sending" | "answer" | "connecting" | "verify" | "request" | "outcome" | "ended" | "remote";

type Child = Node | string;

export function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

const root = (): HTMLElement => document.getElementById("app") as HTMLElement;
let resizeHandler: (() => void) | null = null;

function show(screen: Screen, ...children: Child[]): void {
  if (resizeHandler !== null) {
    window.removeEventListener("resize", resizeHandler);
    resizeHandler = null;
  }
  document.body.dataset["state"] = screen;
  root().replaceChildren(...children);
}

export function setNote(text: string): void {
  const el = document.getElementById("note");
  if (el !== null) el.textContent = text;
}

export function showMessage(screen: Screen, title: string, text: string, code?: string): void {
  const attrs: Record<string, string> = { id: "message", class: "message" };
  if (code) attrs["data-code"] = code;
  show(screen, h("section", attrs, h("h1", { id: "title" }, title), h("p", { id: "detail" }, text)));
}

/** The answer is on its way to the till over the network; nothing to show the camera yet. */
export function showSending(): void {
  show(
    "sending",
    h("section", { id: "message", class: "message" },
      h("h1", { id: "title" }, "Connecting to the till…"),
      h("p", { id: "detail" }, "Keep this page open."),
      h("p", { id: "note", class: "note" }),
    ),
  );
}

/** The answer QR, as large as the screen allows, with its one line of instruction. */
export function showAnswerQr(qr: QrMatrix, text: string): void {
  const canvas = h("canvas", { id: "qr", role: "img", "aria-label": "Answer code for the cashier" }) as HTMLCanvasElement;
  canvas.dataset["version"] = String(qr.version);
  canvas.dataset["text"] = text;
  const line = h("p", { id: "instruction", class: "instruction" }, "Show this to the cashier's camera");
  const note = h("p", { id: "note", class: "note" });
  show("answer", h("section", { class: "qr-screen" }, h("div", { class: "qr-box", id: "qr-box" }, canvas), line, note));
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

/** No web API sets brightness; a WebView host may, when asked (see README.md). */
function askForBrightness(): void {
  const w = window as unknown as {
    webkit?: { messageHandlers?: { qrlink?: { postMessage(m: unknown): void } } };
    QrlinkHost?: { setBrightness?(level: number): void };
  };
  try {
    w.webkit?.messageHandlers?.qrlink?.postMessage({ brightness: "max" });
    w.QrlinkHost?.setBrightness?.(1);
  } catch {
    /* a hint only */
  }
  const wake = (navigator as Navigator & { wakeLock?: { request(t: "screen"): Promise<unknown> } }).wakeLock;
  wake?.request("screen").catch(() => undefined);
}

export function showVerify(code: string, merchant: string | null): void {
  show(
    "verify",
    h("section", { class: "message" },
      h("h1", {}, merchant ? `Connected to ${merchant}` : "Connected"),
      h("p", {}, "Check that the cashier's screen shows the same code:"),
      h("p", { id: "code", class: "code", "data-code": code }, formatCode(code)),
      h("p", { id: "note", class: "note" }, "Waiting for the payment request…"),
    ),
  );
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
  show("request", h("section", { class: "message" }, ...rows, h("div", { class: "buttons" }, decline, approve), h("p", { id: "note", class: "note" })));
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
  show("outcome", sec);
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
  show("remote", form);
}
