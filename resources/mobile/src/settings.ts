// What the page takes from its URL and from the server that served it.

import type { IceSettings } from "./peer";

export const SERVICE_MARKER = "qrlink-rendezvous";
export const DEFAULT_OFFER_LIFETIME_S = 300; // the specification's default token TTL (§7.2)
export const MIN_OFFER_LIFETIME_S = 2; // short lifetimes are for tests of expiry
export const MAX_OFFER_LIFETIME_S = 900; // the specification's maximum TTL

/** ICE servers from the query string: ?ice=stun:host:port&ice=turn:…&iceUsername=&iceCredential=. */
export function iceSettings(params: URLSearchParams): IceSettings {
  const username = params.get("iceUsername") ?? undefined;
  const credential = params.get("iceCredential") ?? undefined;
  const iceServers: RTCIceServer[] = params.getAll("ice").filter((u) => /^(stuns?|turns?):/.test(u)).map((url) =>
    url.startsWith("turn") ? { urls: url, username, credential } : { urls: url },
  );
  return { iceServers, gatherTimeoutMs: 3000 };
}

/** The rendezvous service for reply handles: `?rendezvous=` when given, else this page's
 * own origin when the service served it (its marker), else none. */
export function serviceBase(params: URLSearchParams, doc: Document, here: string): string | null {
  const given = params.get("rendezvous");
  if (given) return given;
  const marker = doc.querySelector(`meta[name="${SERVICE_MARKER}"]`)?.getAttribute("content");
  if (marker === null || marker === undefined) return null;
  try {
    return new URL(marker, here).href.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

/** The offer's lifetime in seconds: `?lifetime=`, within the specification's bounds. */
export function offerLifetime(params: URLSearchParams): number {
  const asked = Number(params.get("lifetime") ?? DEFAULT_OFFER_LIFETIME_S);
  if (!Number.isFinite(asked)) return DEFAULT_OFFER_LIFETIME_S;
  return Math.min(MAX_OFFER_LIFETIME_S, Math.max(MIN_OFFER_LIFETIME_S, asked));
}

/** The page's own address without the fragment: where the offer QR sends the other phone. */
export function pageUrl(loc: Location): string {
  return `${loc.origin}${loc.pathname}${loc.search}`;
}
