// IPv4 / IPv6 / mDNS-name addresses as a bootstrap record packs them, formatted the way
// Python's ipaddress module prints them (RFC 5952 for IPv6), so both codecs agree.

const MDNS_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.local$/;

export const isMdnsName = (address: string): boolean => MDNS_RE.test(address);

export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

export function parseIpv6(text: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return null;
  let tail: number[] = [];
  let body = text;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number)];
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0] as string);
  const rest = halves.length === 2 ? groups(halves[1] as string) : [];
  if (head === null || rest === null) return null;
  const known = head.length + rest.length + tail.length;
  let all: number[];
  if (halves.length === 2) {
    if (known > 7) return null;
    all = [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
  } else {
    if (known !== 8) return null;
    all = [...head, ...tail];
  }
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

export function formatIpv4(b: Uint8Array): string {
  return Array.from(b).join(".");
}

export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] as number) << 8) | (b[i + 1] as number));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestLen > 1) {
    const left = hex.slice(0, bestStart).join(":");
    const right = hex.slice(bestStart + bestLen).join(":");
    return `${left}::${right}`;
  }
  return hex.join(":");
}

export function formatUuid(b: Uint8Array): string {
  let h = "";
  for (const x of b) h += x.toString(16).padStart(2, "0");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function parseUuid(name: string): Uint8Array {
  const h = name.slice(0, 36).replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Why an address may not appear in a record, or null when it may. */
export function refusal(b: Uint8Array, allowLoopback: boolean): string | null {
  const all = (v: number): boolean => b.every((x) => x === v);
  if (b.length === 4) {
    const text = formatIpv4(b);
    if (all(0) || ((b[0] as number) & 0xf0) === 0xe0) return `candidate address ${text} is unspecified or multicast`;
    if (all(255)) return "candidate address is the broadcast address";
    if (b[0] === 127 && !allowLoopback) return `candidate address ${text} is a loopback address`;
    return null;
  }
  const text = formatIpv6(b);
  if (all(0) || b[0] === 0xff) return `candidate address ${text} is unspecified or multicast`;
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return `candidate address ${text} is an IPv4-mapped IPv6 address`;
  }
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1 && !allowLoopback) {
    return `candidate address ${text} is a loopback address`;
  }
  return null;
}

export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "[::1]" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
