// The specification's compatibility form: base64 of (zstd-compressed) JSON.
import assert from "node:assert/strict";
import { test } from "node:test";
import vectors from "../../protocol/bootstrap-vectors.json";
import { toHex } from "../src/bytes";
import { decodeCompact } from "../src/codec";
import { decodeAny, decodeCompat, encodeCompat, looksCompat } from "../src/compat";
import { QrlinkError } from "../src/errors";

const now = vectors.decodeNow;
// Made by the Python side (qrlink_desktop.rtc.tokens.encode_compat, zstd level 19) from
// the vectors "offer, relay only, reply handle" and "answer, browser mDNS".
const ZSTD_TOKENS: [number, string][] = [[3, "KLUv/WDUAU0PAGZfYiEQsx78b5AIWT1bRvC0EavdRhO5qub90q/EYYSAAAAAABBaAFwAVQCQaG+1pOh9XMcal9kbX51DEYmvcd3DnQZn5sCukMgWkMHv8OOWC0d69XmBlQIoW6PUOMTFIdZICSZKBZRVbZzX5034hF4b+XJnUEaS62375Eu9PV1G9eVGggL2M+sL2dvsJ+sr+1bhpyxO1058Ab97HN9cWzxu8zbpTo/AJRxcDKKGBM2noJjNZ87eUKx7C+ZbOLXGSQBKK6BeQGVdWkZ7Hr5ouOM8tc4rmhMbD4Ij4Eg8skAjCzXWl7yUkdQdZy57WJvbN7OnpWon+/rDgVNbMAjqbnYwpfc7//aknzkQxLtr+HfYNYgRnlaW/YpQfWZ4eqXsB9lT7Oud7mOCr6i/1FvSS/Wx6g3TZwGhkKSoabpXkgQCa2uldPLv4clsatEK1JzbHS0jHfL+0pPxGDKiFlVfdizrjjXP1rXVZiv5Mh9AL3HXnYwokkYeATTynDGPHpzRPG5Pv9VSFDXVuHMYAycoIAwRM6IHQJYVMVwDg0bxCXdg6AY0QEC/wcd/EgcqR5wQqwxLI9uqWeEOIgbrXAcM9tS/FSAkCBjB85P5uaXFTOOD78cz8espdu4bCdNGiDk8q3BGdAb9F3TVGQ=="], [5, "KLUv/WCHAVUOAOZfYiAAszz8vxEajEm9FkGJWvlXNaDWQ577mlYdcbL///8/lFwAWgBVAI5rwLgekIJcp3Wctc3zcHVpJCDws9Y5fNlcao1fMMSleBDew3RfpcJwVl1WnE6BVCm8jANUHGCFEbXSnSqVKpRVx0k+yawy8aOneQzEb2s4h+PH7XF6DNCPmegJb7A+sn5OP7EnzC/Yt9jX+gTqrfSU/ev6a4IRVCW28O+c9nnfrnBaZsCuAsHKts4UTE1SBF1b6Xyt8QYAivUV/GUYubM2q7xtjsOWjDvWMvePsjWQ4Sg0Bg1EU5qWVuhpDKSQfuQj3x1rTXM4x0C8l9ao/u5oXO4K5nxf5AbPCX3/Ok96Pc/X2s5oPeP3MH1zS6DY3+up4Qv3L/XXfqVfobfuT/Qx6zHDfUz6a72lAp/P5hvOPnI2bsHB2/5iYFIS/dgtvTve39U2VwrF8aM+fDvLuuj5iPu+xMAkdt5ZoMfpkFZ7Ibjh3G0CejeFpUyziFKlhTQl8cyupNQ9yT11lGdmIbU3ChgIIFqRNQ4AAt7HsF1ZrjFiBtzFETUFioyyS3wIC2ffUErGpIjfSEcEHH43YWK4KuQ2vHmFVUTFIEVPCLgz"]];

const same = (a: unknown, b: unknown): void =>
  assert.deepEqual(JSON.parse(JSON.stringify(a, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v))),
    JSON.parse(JSON.stringify(b, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v))));

for (const v of vectors.valid) {
  test(`compat round trip: ${v.name}`, () => {
    const record = decodeCompact(v.text, { now });
    const token = encodeCompat(record, now * 1000);
    assert.ok(looksCompat(token));
    const back = decodeCompat(token, { now });
    same({ ...back, seed: null }, { ...record, seed: null });
    same(decodeAny(token, { now }).candidates, record.candidates);
  });
}

for (const [index, token] of ZSTD_TOKENS) {
  test(`zstd token from Python: vector ${index}`, () => {
    const expected = decodeCompact((vectors.valid[index] as { text: string }).text, { now });
    const got = decodeAny(token, { now });
    same({ ...got, seed: null }, { ...expected, seed: null });
  });
}

test("a decompression bomb stops at the JSON size cap", () => {
  // zstd of '{"v":1,' + 100,000 spaces + '}', made by the Python side.
  assert.throws(() => decodeCompat("KLUv/aCohgEAjQAASHsidiI6MSwgfQEAnIY54AI=", { now }), /too large/);
});

test("hostile compat tokens fail cleanly", () => {
  const bad = ["e30=", "bm90IGpzb24=", "KLUv/QBYAAAA", btoa("{\"v\":1,\"type\":\"offer\"}"), "%%"];
  for (const t of bad) {
    assert.throws(() => decodeCompat(t, { now }), (e: unknown) => e instanceof QrlinkError && e.code === "BOOTSTRAP_PARSE_FAILED", t);
  }
});
