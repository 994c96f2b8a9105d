// What the unit tests share besides the fake channel.

import { QrlinkError } from "../src/errors";

// The error code a call fails with, or "OK": lets a table of cases compare codes.
export const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (exc) {
    if (exc instanceof QrlinkError) return exc.code;
    throw exc;
  }
  return "OK";
};
