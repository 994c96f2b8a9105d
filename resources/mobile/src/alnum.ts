// Base-41 text in the QR alphanumeric alphabet (resources/protocol/bootstrap-format.md).
// Two bytes become three characters; a final odd byte two. Decoding is strict: every text
// has at most one decoding, or an error.

export const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:/*";
const BASE = 41;
const INDEX = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));

export class AlnumError extends Error {}

const ch = (i: number): string => ALPHABET.charAt(i);

export function encode(data: Uint8Array): string {
  let out = "";
  for (let i = 0; i + 1 < data.length; i += 2) {
    const v = ((data[i] as number) << 8) | (data[i + 1] as number);
    out += ch(v % BASE) + ch(Math.floor(v / BASE) % BASE) + ch(Math.floor(v / BASE / BASE));
  }
  if (data.length % 2) {
    const v = data[data.length - 1] as number;
    out += ch(v % BASE) + ch(Math.floor(v / BASE));
  }
  return out;
}

export function decode(text: string): Uint8Array {
  if (text.length % 3 === 1) throw new AlnumError("text length leaves a dangling character");
  const digits: number[] = [];
  for (const c of text) {
    const d = INDEX.get(c);
    if (d === undefined) throw new AlnumError(`character ${JSON.stringify(c)} is not in the alphabet`);
    digits.push(d);
  }
  const full = digits.length - (digits.length % 3);
  const out = new Uint8Array(Math.floor(full / 3) * 2 + (full < digits.length ? 1 : 0));
  let pos = 0;
  for (let i = 0; i < full; i += 3) {
    const v = (digits[i] as number) + (digits[i + 1] as number) * BASE + (digits[i + 2] as number) * BASE * BASE;
    if (v > 0xffff) throw new AlnumError("a character group is out of range");
    out[pos++] = v >> 8;
    out[pos++] = v & 0xff;
  }
  if (full < digits.length) {
    const v = (digits[full] as number) + (digits[full + 1] as number) * BASE;
    if (v > 0xff) throw new AlnumError("the last character pair is out of range");
    out[pos] = v;
  }
  return out;
}
