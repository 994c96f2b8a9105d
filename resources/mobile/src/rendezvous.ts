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

/** What the service's `GET /turn` hands out: short-lived TURN REST credentials. */
export interface TurnGrant {
  servers: RTCIceServer[];
  ttlS: number;
}

/** TURN credentials against the capability the customer holds: the handle the shop
 * published (valid while it is published). null when the service hands out none (404);
 * a refusal or an unreachable service is an error the caller may pass over — the page
 * then connects without the service's relay. */
export async function turnCredentials(base: string, handle: string, fetchFn: FetchLike = fetch): Promise<TurnGrant | null> {
  let res: Response;
  try {
    res = await fetchFn(`${baseUrl(base)}/turn?handle=${encodeURIComponent(checkHandle(handle))}`, { cache: "no-store" });
  } catch (exc) {
    if (exc instanceof QrlinkError) throw exc;
    throw new QrlinkError("REMOTE_SERVICE_ERROR", `The relay credentials could not be fetched (${(exc as Error).message}).`);
  }
  if (res.status === 404) return null;
  if (!res.ok) throw new QrlinkError("REMOTE_SERVICE_ERROR", `The service refused relay credentials: ${await readError(res)}`);
  const body = (await res.json()) as { username?: unknown; credential?: unknown; uris?: unknown; ttl?: unknown };
  const uris = Array.isArray(body.uris) ? body.uris.filter((u): u is string => typeof u === "string" && /^turns?:/.test(u)) : [];
  if (typeof body.username !== "string" || typeof body.credential !== "string" || uris.length === 0) {
    throw new QrlinkError("REMOTE_SERVICE_ERROR", "The service's relay credentials are incomplete.");
  }
  return {
    servers: [{ urls: uris, username: body.username, credential: body.credential }],
    ttlS: typeof body.ttl === "number" ? body.ttl : 0,
  };
}
