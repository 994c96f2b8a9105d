// The page's scanner confirms a code by the desktop scanner's rule: every case of
// resources/protocol/scan-confirmation.json, which tests/scan/test_scan_confirm.py
// replays through qrlink_desktop/scan/confirm.py.
import assert from "node:assert/strict";
import { test } from "node:test";
import rule from "../../protocol/scan-confirmation.json";
import { Confirmer, DEFAULTS } from "../src/confirm";

type Frame = [number, string[], string[]] | ["reset"];
interface Case {
  name: string;
  needed?: number;
  windowFrames?: number;
  windowSeconds?: number;
  frames: Frame[];
}

for (const c of rule.cases as Case[]) {
  test(`confirmation: ${c.name}`, () => {
    const confirmer = new Confirmer(c.needed ?? DEFAULTS.needed, c.windowFrames ?? DEFAULTS.windowFrames, c.windowSeconds ?? DEFAULTS.windowSeconds);
    c.frames.forEach((frame, i) => {
      if (frame[0] === "reset") {
        confirmer.reset();
        assert.equal(confirmer.accepted.size, 0);
        return;
      }
      const [t, texts, confirms] = frame as [number, string[], string[]];
      assert.deepEqual(confirmer.observe(texts, t), confirms, `frame ${i}`);
    });
  });
}

test("confirmation: impossible settings are refused", () => {
  assert.throws(() => new Confirmer(0), /at least one/);
  assert.throws(() => new Confirmer(5, 4), /never hold/);
  assert.throws(() => new Confirmer(2, 4, 0), /positive/);
});
