// Multi-frame confirmation of a scanned code, the desktop scanner's rule
// (qrlink_desktop/scan/confirm.py): a text is accepted when it appears in at least `needed`
// of the last `windowFrames` decoded frames, all within `windowSeconds`; then it is emitted
// once, until reset(). A single frame can misread, and a code glimpsed while a phone swings
// past is not one anybody meant to show. Both are replayed against
// resources/protocol/scan-confirmation.json. Pure: the caller passes `now` (seconds, a
// monotonic reading) with every frame.

import rule from "../../protocol/scan-confirmation.json";

export const DEFAULTS = rule.defaults;

export class Confirmer {
  // (time, texts seen in that frame), oldest first; frames with no code count too, so a
  // code seen once and then lost does not linger in the window.
  private frames: { t: number; texts: ReadonlySet<string> }[] = [];
  private readonly done = new Set<string>();

  constructor(
    readonly needed: number = DEFAULTS.needed,
    readonly windowFrames: number = DEFAULTS.windowFrames,
    readonly windowSeconds: number = DEFAULTS.windowSeconds,
  ) {
    if (needed < 1) throw new RangeError("a code needs at least one sighting to be accepted");
    if (windowFrames < needed) throw new RangeError(`a window of ${windowFrames} frames can never hold ${needed} sightings`);
    if (windowSeconds <= 0) throw new RangeError("the time window must be positive");
  }

  /** Texts already emitted since the last reset. */
  get accepted(): ReadonlySet<string> {
    return this.done;
  }

  /** Record one decoded frame; return the texts it confirms for the first time, in the
   * order the frame listed them, each at most once. */
  observe(texts: Iterable<string>, now: number): string[] {
    const last = this.frames[this.frames.length - 1];
    // The clock went back: older sightings can no longer be placed in time.
    if (last !== undefined && now < last.t) this.frames = [];
    const listed = [...new Set(texts)];
    this.frames.push({ t: now, texts: new Set(listed) });
    if (this.frames.length > this.windowFrames) this.frames.shift();
    const horizon = now - this.windowSeconds;
    while (this.frames.length > 0 && (this.frames[0] as { t: number }).t < horizon) this.frames.shift();
    const confirmed: string[] = [];
    for (const text of listed) {
      if (this.done.has(text)) continue;
      const sightings = this.frames.filter((f) => f.texts.has(text)).length;
      if (sightings >= this.needed) {
        this.done.add(text);
        confirmed.push(text);
      }
    }
    return confirmed;
  }

  /** Forget sightings and accepted texts: the next code is new again. */
  reset(): void {
    this.frames = [];
    this.done.clear();
  }
}
