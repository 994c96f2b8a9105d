// The message envelope {type, payload, timestamp, messageId} and its validation: size cap,
// JSON, envelope schema, payload schema, custom validators (protocol.md; the same order as
// qrlink_desktop/core/messages.py).

import currencyFile from "../../protocol/currencies.json";
import schemaFile from "../../protocol/messages.schema.json";
import { randomBytes } from "./bytes";
import { QrlinkError } from "./errors";
import { type Schema, SchemaError, validate } from "./schema";

export const MAX_MESSAGE_BYTES = 16 * 1024;
export const MESSAGE_TYPES = ["handshake", "payment_request", "payment_response", "payment_acknowledgment", "error", "ping", "pong"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
export const PAYMENT_TYPES: ReadonlySet<MessageType> = new Set(["payment_request", "payment_response", "payment_acknowledgment"]);

export type Payload = { [key: string]: unknown };

export interface Envelope {
  type: MessageType;
  payload: Payload;
  timestamp: number;
  messageId: string;
}

const ROOT = schemaFile as unknown as Schema;
const DEFS = ROOT["$defs"] as { [key: string]: Schema };
export const CURRENCIES: { readonly [code: string]: number } = currencyFile.currencies;

const invalid = (message: string): QrlinkError => new QrlinkError("MESSAGE_INVALID", message);

/** 16 characters of base64url, 96 random bits (as Python's secrets.token_urlsafe(12)). */
export function newMessageId(): string {
  let s = "";
  for (const b of randomBytes(12)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_");
}

/** The custom validator for money: a known currency, its decimals, and not zero. */
export function checkAmount(amount: string, currency: string): void {
  const minor = CURRENCIES[currency];
  if (minor === undefined) throw invalid(`${currency} is not an ISO 4217 currency code`);
  const frac = amount.includes(".") ? amount.slice(amount.indexOf(".") + 1) : "";
  if (frac.length > minor) throw invalid(`${currency} allows ${minor} decimal places; ${amount} has ${frac.length}`);
  if (!/[1-9]/.test(amount)) throw invalid("the amount must be greater than zero");
}

const CUSTOM: Partial<Record<MessageType, ((p: Payload) => void)[]>> = {
  payment_request: [(p) => checkAmount(p["amount"] as string, p["currency"] as string)],
};

export function validatePayload(type: MessageType, payload: Payload): void {
  const sub = DEFS[type];
  if (sub === undefined) throw invalid(`${type} has no schema`);
  try {
    validate(payload, sub, ROOT, "payload");
  } catch (exc) {
    if (exc instanceof SchemaError) throw invalid(`${type} ${exc.message}`);
    throw exc;
  }
  for (const check of CUSTOM[type] ?? []) check(payload);
}

/** A validated envelope; sending an invalid message is a programming error here. */
export function make(type: MessageType, payload: Payload, nowMs: number, messageId?: string): Envelope {
  validatePayload(type, payload);
  return { type, payload, timestamp: Math.floor(nowMs), messageId: messageId ?? newMessageId() };
}

export const toJson = (env: Envelope): string =>
  JSON.stringify({ type: env.type, payload: env.payload, timestamp: env.timestamp, messageId: env.messageId });

export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

export function parse(raw: string): Envelope {
  const size = utf8Length(raw);
  if (size > MAX_MESSAGE_BYTES) throw new QrlinkError("MESSAGE_TOO_LARGE", `a message of ${size} bytes exceeds the limit of ${MAX_MESSAGE_BYTES}`);
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    throw invalid("the message is not valid JSON");
  }
  try {
    validate(data, DEFS["envelope"] as Schema, ROOT);
  } catch (exc) {
    if (exc instanceof SchemaError) throw invalid(`envelope ${exc.message}`);
    throw exc;
  }
  const env = data as Envelope;
  validatePayload(env.type, env.payload);
  return { type: env.type, payload: env.payload, timestamp: env.timestamp, messageId: env.messageId };
}
