// The answer QR: npm `qrcode` (error correction M, its optimal segmentation of the text)
// drawn on a canvas at a whole number of device pixels per module, so it stays sharp.

import { create } from "qrcode/lib/core/qrcode.js";

export interface QrMatrix {
  size: number;
  version: number;
  dark: (row: number, col: number) => boolean;
}

export const QUIET_ZONE = 4;

export function makeQr(text: string): QrMatrix {
  const qr = create(text, { errorCorrectionLevel: "M" });
  const m = qr.modules;
  return { size: m.size, version: qr.version, dark: (r, c) => Boolean(m.get(r, c)) };
}

/** Draw into `canvas` no larger than `cssSize` CSS pixels; returns device pixels a module. */
export function draw(canvas: HTMLCanvasElement, qr: QrMatrix, cssSize: number, dpr: number): number {
  const total = qr.size + 2 * QUIET_ZONE;
  const px = Math.max(1, Math.floor((cssSize * dpr) / total));
  const side = px * total;
  canvas.width = side;
  canvas.height = side;
  canvas.style.width = `${side / dpr}px`;
  canvas.style.height = `${side / dpr}px`;
  const ctx = canvas.getContext("2d");
  if (ctx === null) return px;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, side, side);
  ctx.fillStyle = "#000";
  for (let r = 0; r < qr.size; r++) {
    for (let c = 0; c < qr.size; c++) {
      if (qr.dark(r, c)) ctx.fillRect((c + QUIET_ZONE) * px, (r + QUIET_ZONE) * px, px, px);
    }
  }
  return px;
}
