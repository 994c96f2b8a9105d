// Error codes of the specification's §10.1 plus what the protocol needs (same list as
// qrlink_desktop/core/errors.py), and the error that carries one with a sentence.

export type ErrorCode =
  | "BOOTSTRAP_GENERATION_FAILED"
  | "BOOTSTRAP_PARSE_FAILED"
  | "CONNECTION_FAILED"
  | "ICE_FAILED"
  | "DATA_CHANNEL_FAILED"
  | "MESSAGE_SEND_FAILED"
  | "TIMEOUT"
  | "REMOTE_SERVICE_ERROR"
  | "MESSAGE_INVALID"
  | "MESSAGE_TOO_LARGE"
  | "VERIFICATION_FAILED"
  | "PROTOCOL_VERSION_UNSUPPORTED"
  | "NOT_VERIFIED"
  | "RATE_LIMITED"
  | "INVALID_ARGUMENT";

export class QrlinkError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = "QrlinkError";
  }
}

export const parseFailed = (message: string): QrlinkError =>
  new QrlinkError("BOOTSTRAP_PARSE_FAILED", message);

export const generationFailed = (message: string): QrlinkError =>
  new QrlinkError("BOOTSTRAP_GENERATION_FAILED", message);
