// The encoder alone from npm `qrcode` (its renderers are not needed: the page draws).
declare module "qrcode/lib/core/qrcode.js" {
  import type { QRCode, QRCodeOptions } from "qrcode";
  export function create(text: string, options?: QRCodeOptions): QRCode;
}
