// Remote mode through the rendezvous service (docs/rendezvous.md): look the merchant's
// handle up, and publish the answer under the reply handle the offer names.

import { QrlinkError } from "./errors";

export interface FetchLike {
  (input: string, init?: RequestInit): Promise<Response>;
}

const HANDLE_RE = /^[A-Za-z0-9._-]{3,64}$/;

export function checkHandle(handle: string): string {
  const h = handle.trim();
  if (!HANDLE_RE.test(h)) {
    throw new QrlinkError("INVALID_ARGUMENT", "A handle is 3 to 64 letters, digits, dots, dashes or underscores.");
  }
  return h;
}

export function baseUrl(base: string): string {
  const b = base.trim().replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/i.test(b)) throw new QrlinkError("INVALID_ARGUMENT", "The service address must start with http:// or https://.");
  return b;
}

async function readError(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { message?: string } };
    return body.error?.message ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

/** The token published under `handle`, or null when there is none; with `waitS`, the
 * service holds the request until one is published or that many seconds pass. */
export async function lookup(base: string, handle: string, fetchFn: FetchLike = fetch, waitS = 0, signal?: AbortSignal): Promise<string | null> {
  let res: Response;
  const wait = waitS > 0 ? `&wait=${waitS}` : "";
  try {
    const init: RequestInit = { cache: "no-store" };
    if (signal !== undefined) init.signal = signal;
    res = await fetchFn(`${baseUrl(base)}/lookup?username=${encodeURIComponent(checkHandle(handle))}${wait}`, init);
  } catch (exc) {
    if (exc instanceof QrlinkError) throw exc;
    if (signal?.aborted) return null;
    throw new QrlinkError("REMOTE_SERVICE_ERROR", `The lookup service could not be reached (${(exc as Error).message}).`);
  }
  if (res.status === 404) return null;
  if (!res.ok) throw new QrlinkError("REMOTE_SERVICE_ERROR", `The lookup service refused: ${await readError(res)}`);
  const body = (await res.json()) as { token?: unknown };
  if (typeof body.token !== "string") throw new QrlinkError("REMOTE_SERVICE_ERROR", "The lookup service answered without a token.");
  return body.token;
}

export async function publish(base: string, username: string, token: string, ttlMs: number, fetchFn: FetchLike = fetch): Promise<void> {
  let res: Response;
  try {
    res = await fetchFn(`${baseUrl(base)}/publish`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, token, ttl: ttlMs }),
    });
  } catch (exc) {
    throw new QrlinkError("REMOTE_SERVICE_ERROR", `The answer could not be sent (${(exc as Error).message}).`);
  }
  if (!res.ok) throw new QrlinkError("REMOTE_SERVICE_ERROR", `The service refused the answer: ${await readError(res)}`);
}
