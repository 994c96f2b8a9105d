// What the page tells whoever embeds it (the specification's §11.2 WebView host) and the
// tests: its state and the verification code, on <body data-state data-code data-role
// data-error> and, when present, to a host bridge — iOS: a WKScriptMessageHandler named
// `qrlink` (window.webkit.messageHandlers.qrlink.postMessage(object)); Android: an object
// injected as `QrlinkHost` with onState(json) (addJavascriptInterface takes strings).
// README.md documents the vocabulary and a minimal host for each platform.

/** The states a host sees, in the order a pairing passes them. */
export const HOST_STATES = [
  "loading", // starting, or reading a code
  "choosing", // no code in the URL: request a payment, scan a code, or pay a shop by handle
  "remote", // the form for a shop's handle
  "offering", // merchant: the payment code is on screen, waiting for the other phone
  "scanning", // the camera is open (merchant: the answer; customer: a payment code)
  "answering", // customer: answered; the answer is on its way (network or on screen)
  "connecting", // the answer is in; the channel opens and the handshake runs
  "verifying", // both screens show the code (data-code); the merchant is to confirm it
  "verified", // merchant: code confirmed, the amount may be entered
  "requested", // a payment request is on its way or on screen, undecided
  "paid", // the payment was approved
  "declined", // the payment was declined
  "failed", // it ended in an error (data-error holds its code)
  "closed", // it ended without an error and without a payment decided
] as const;
export type HostState = (typeof HOST_STATES)[number];

export type Role = "merchant" | "customer";

export interface HostReport {
  type: "state";
  state: HostState;
  role: Role | null;
  code: string | null; // the 6-digit verification code, once known
  error: string | null; // an error code (errors.json) with state "failed"
  amount?: string;
  currency?: string;
}

interface Hosts {
  webkit?: { messageHandlers?: { qrlink?: { postMessage(message: unknown): void } } };
  QrlinkHost?: { onState?(json: string): void; setBrightness?(level: number): void };
}

const hosts = (): Hosts => window as unknown as Hosts;

let role: Role | null = null;
let code: string | null = null;
let last = "";

/** The side this page plays from now on; the code is forgotten with a new pairing. */
export function setRole(next: Role | null): void {
  role = next;
  code = null;
}

export function setCode(next: string | null): void {
  code = next;
}

/** Say the state: on <body> and to the host, once per change. */
export function report(state: HostState, extra: { error?: string; amount?: string; currency?: string } = {}): void {
  const body = document.body.dataset;
  const message: HostReport = { type: "state", state, role, code, error: extra.error ?? null };
  if (extra.amount !== undefined) message.amount = extra.amount;
  if (extra.currency !== undefined) message.currency = extra.currency;
  body["state"] = state;
  for (const [key, value] of [["code", code], ["role", role], ["error", message.error]] as const) {
    if (value === null) delete body[key];
    else body[key] = value;
  }
  const json = JSON.stringify(message);
  if (json === last) return;
  last = json;
  const h = hosts();
  try {
    h.webkit?.messageHandlers?.qrlink?.postMessage(message);
    if (typeof h.QrlinkHost?.onState === "function") h.QrlinkHost.onState(json);
  } catch (exc) {
    // A host's handler failing must not stop the payment; said where a developer looks.
    console.warn(`qrlink: the host bridge refused a state report: ${(exc as Error).message}`);
  }
}

/** No web API sets brightness; a host may, when asked (README.md). */
export function askForBrightness(): void {
  const h = hosts();
  try {
    h.webkit?.messageHandlers?.qrlink?.postMessage({ brightness: "max" });
    h.QrlinkHost?.setBrightness?.(1);
  } catch {
    /* a hint only */
  }
  const wake = (navigator as Navigator & { wakeLock?: { request(t: "screen"): Promise<unknown> } }).wakeLock;
  wake?.request("screen").catch(() => undefined);
}
