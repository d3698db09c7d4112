// Grad mode: code that must not be recorded for backpropagation (evaluation, weight updates).
import { native } from "./native.js";

/** Runs fn with gradient recording off (restored afterwards, also on throw). fn must be synchronous. */
export function noGrad<T>(fn: () => T): T {
  const previous = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
