// Error codes: the specification's §10.1 list plus what the protocol needs, each with its
// meaning, in resources/protocol/errors.json, which the desktop's core/errors.py is checked
// against. The type is that file's keys (a type-only import: nothing of it is bundled).

import type errorFacts from "../../protocol/errors.json";

export type ErrorCode = keyof typeof errorFacts.codes;

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

// What the other side says when it refuses the pairing itself (codes differ, or versions):
// the page says "could not be verified", whichever role it plays.
export const refusesPairing = (code: string): boolean =>
  code === "VERIFICATION_FAILED" || code === "PROTOCOL_VERSION_UNSUPPORTED";
