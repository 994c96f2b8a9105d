// The page's own QR scanner: the phone's camera (getUserMedia, the back camera when there
// is one) in a live preview, each frame decoded by the browser's BarcodeDetector where it
// has one that reads QR codes, by jsQR (the specification's §11.3 library) otherwise, the
// code outlined on the preview, and a text accepted only once the desktop scanner's
// multi-frame rule confirms it (confirm.ts). Frames are decoded at most 640 pixels wide:
// a phone's screen held to a phone's camera fills much of the frame, and jsQR's time grows
// with the pixels.

import jsQR from "jsqr";
import { Confirmer } from "./confirm";
import { QrlinkError } from "./errors";

export const MAX_SIDE = 640;
const FRAME_GAP_MS = 66; // ~15 decoded frames a second at most: a phone's battery matters
const TIMES_KEPT = 31; // decode times kept for the median the page reports

export interface Point {
  x: number;
  y: number;
}

export interface Decoded {
  text: string;
  corners: Point[]; // in the decoded frame's pixels, clockwise from top left
}

export interface FrameDecoder {
  readonly name: "BarcodeDetector" | "jsQR";
  decode(canvas: HTMLCanvasElement, ctx: CanvasRenderingContext2D): Promise<Decoded[]>;
}

/** jsQR over RGBA pixels: the fallback every browser can run. */
export function decodeRgba(data: Uint8ClampedArray, width: number, height: number): Decoded[] {
  const found = jsQR(data, width, height, { inversionAttempts: "dontInvert" });
  if (found === null || found.data === "") return [];
  const l = found.location;
  return [{ text: found.data, corners: [l.topLeftCorner, l.topRightCorner, l.bottomRightCorner, l.bottomLeftCorner] }];
}

const jsqrDecoder: FrameDecoder = {
  name: "jsQR",
  async decode(canvas, ctx) {
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return decodeRgba(image.data, image.width, image.height);
  },
};

interface DetectedBarcode {
  rawValue: string;
  cornerPoints: Point[];
}
interface BarcodeDetectorLike {
  detect(source: CanvasImageSource): Promise<DetectedBarcode[]>;
}
interface BarcodeDetectorClass {
  new (options: { formats: string[] }): BarcodeDetectorLike;
  getSupportedFormats(): Promise<string[]>;
}

/** The browser's BarcodeDetector, when it has one that reads QR codes (Chrome on Android
 * and macOS, Safari 17+; not Firefox, not Chrome on Linux or Windows). */
export async function barcodeDetector(): Promise<FrameDecoder | null> {
  const Detector = (window as unknown as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector;
  if (Detector === undefined) return null;
  try {
    if (!(await Detector.getSupportedFormats()).includes("qr_code")) return null;
    const detector = new Detector({ formats: ["qr_code"] });
    return {
      name: "BarcodeDetector",
      async decode(canvas) {
        const found = await detector.detect(canvas);
        return found.filter((b) => b.rawValue !== "").map((b) => ({ text: b.rawValue, corners: b.cornerPoints }));
      },
    };
  } catch {
    return null; // present but unusable: jsQR reads the frames
  }
}

export async function pickDecoder(): Promise<FrameDecoder> {
  return (await barcodeDetector()) ?? jsqrDecoder;
}

/** What the camera's refusal means for the person holding the phone. */
export function cameraRefusal(exc: unknown): QrlinkError {
  const name = (exc as { name?: string } | null)?.name ?? "";
  const sentences: Record<string, string> = {
    NotAllowedError: "The camera was not allowed. Allow this page to use the camera in the browser's settings, then try again.",
    SecurityError: "The camera was not allowed. Allow this page to use the camera in the browser's settings, then try again.",
    NotFoundError: "This device has no camera the page can use.",
    OverconstrainedError: "This device has no camera the page can use.",
    NotReadableError: "The camera is busy in another app. Close it, then try again.",
    AbortError: "The camera is busy in another app. Close it, then try again.",
  };
  return new QrlinkError("INVALID_ARGUMENT", sentences[name] ?? `The camera could not be opened (${(exc as Error)?.message ?? String(exc)}).`);
}

async function openCamera(): Promise<MediaStream> {
  const devices = navigator.mediaDevices as MediaDevices | undefined;
  if (devices === undefined || typeof devices.getUserMedia !== "function") {
    throw new QrlinkError(
      "INVALID_ARGUMENT",
      window.isSecureContext
        ? "This browser gives the page no camera."
        : "The camera needs a secure page: open this page over https, or scan with the phone's camera app.",
    );
  }
  try {
    return await devices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 640 }, height: { ideal: 480 } },
    });
  } catch (exc) {
    throw cameraRefusal(exc);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** A running scanner: the preview in `box`, each confirmed text to `onText`, once. */
export class Scanner {
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly confirmer = new Confirmer();
  private readonly frame = document.createElement("canvas");
  private readonly times: number[] = [];
  frames = 0;

  private constructor(
    private readonly stream: MediaStream,
    private readonly video: HTMLVideoElement,
    private readonly outline: HTMLCanvasElement,
    readonly decoder: FrameDecoder,
    private readonly onText: (text: string) => void,
  ) {}

  /** Open the camera into `box` (a preview and the outline over it); QrlinkError with a
   * sentence for a person when the camera cannot be had. */
  static async open(box: HTMLElement, onText: (text: string) => void): Promise<Scanner> {
    const stream = await openCamera();
    const video = document.createElement("video");
    video.setAttribute("playsinline", ""); // iOS: in the page, not full screen
    video.muted = true;
    video.autoplay = true;
    video.id = "preview";
    video.srcObject = stream;
    const outline = document.createElement("canvas");
    outline.id = "outline";
    outline.className = "outline";
    box.replaceChildren(video, outline);
    const decoder = await pickDecoder();
    const scanner = new Scanner(stream, video, outline, decoder, onText);
    document.body.dataset["scanDecoder"] = decoder.name;
    video.play().catch(() => undefined); // autoplay of a muted stream is allowed; a hint only
    scanner.schedule(0);
    return scanner;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const track of this.stream.getTracks()) track.stop();
    this.video.srcObject = null;
  }

  /** Forget what was seen: a code refused once may be shown again and be read again. */
  reset(): void {
    this.confirmer.reset();
  }

  private schedule(ms: number): void {
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const started = performance.now();
    const v = this.video;
    if (v.readyState >= 2 && v.videoWidth > 0) {
      const scale = Math.min(1, MAX_SIDE / Math.max(v.videoWidth, v.videoHeight));
      const w = Math.round(v.videoWidth * scale);
      const h = Math.round(v.videoHeight * scale);
      if (this.frame.width !== w || this.frame.height !== h) {
        this.frame.width = w;
        this.frame.height = h;
      }
      const ctx = this.frame.getContext("2d", { willReadFrequently: true });
      if (ctx !== null) {
        ctx.drawImage(v, 0, 0, w, h);
        let found: Decoded[] = [];
        const t0 = performance.now();
        try {
          found = await this.decoder.decode(this.frame, ctx);
        } catch (exc) {
          console.warn(`qrlink: a camera frame could not be decoded: ${(exc as Error).message}`);
        }
        this.record(performance.now() - t0, w, h);
        if (this.stopped) return;
        this.draw(found, w, h);
        for (const text of this.confirmer.observe(found.map((f) => f.text), performance.now() / 1000)) {
          this.onText(text);
          if (this.stopped) return;
        }
      }
    }
    this.schedule(Math.max(0, FRAME_GAP_MS - (performance.now() - started)));
  }

  private record(ms: number, w: number, h: number): void {
    this.frames += 1;
    // When the first frame's decoding began: the benchmark's "answer shown to the camera".
    if (this.frames === 1) document.body.dataset["tScanFirstFrame"] = (performance.now() - ms).toFixed(1);
    this.times.push(ms);
    if (this.times.length > TIMES_KEPT) this.times.shift();
    const d = document.body.dataset;
    d["scanFrames"] = String(this.frames);
    d["scanSize"] = `${w}x${h}`;
    d["scanMs"] = median(this.times).toFixed(1);
  }

  /** The code's outline over the preview, in the preview's own pixels. */
  private draw(found: Decoded[], w: number, h: number): void {
    const o = this.outline;
    const rect = this.video.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    o.width = Math.max(1, Math.round(rect.width * dpr));
    o.height = Math.max(1, Math.round(rect.height * dpr));
    const ctx = o.getContext("2d");
    if (ctx === null) return;
    ctx.clearRect(0, 0, o.width, o.height);
    // object-fit: contain: the frame is scaled to fit and centred.
    const k = Math.min(o.width / w, o.height / h);
    const dx = (o.width - w * k) / 2;
    const dy = (o.height - h * k) / 2;
    ctx.lineWidth = Math.max(3, 4 * dpr);
    ctx.strokeStyle = "#0a7d34";
    for (const code of found) {
      ctx.beginPath();
      code.corners.forEach((p, i) => (i === 0 ? ctx.moveTo(dx + p.x * k, dy + p.y * k) : ctx.lineTo(dx + p.x * k, dy + p.y * k)));
      ctx.closePath();
      ctx.stroke();
    }
    document.body.dataset["scanOutlined"] = String(found.length);
  }
}
