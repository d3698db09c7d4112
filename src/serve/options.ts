// The server's settings and their defaults, kept free of the tensor engine so that the CLI can
// check flags and print help without loading libtorch.
import { DEFAULT_INPUT_LIMITS, type InputLimits } from "../inference/input-limits.js";

export interface BatchingOptions {
  /** Most items (pairs, expressions, sentences) in one model batch. */
  maxBatch: number;
  /** How long the first item of a batch may wait for others to join it, in milliseconds. */
  maxWaitMs: number;
  /** Most items waiting for the model; beyond it a request is refused with 503 and Retry-After. */
  queue: number;
  /** A request not answered within this time gets 504 (its items are dropped if still waiting). */
  timeoutMs: number;
}

export interface ServeOptions extends BatchingOptions {
  /** The models to load, each a model directory or a shipped model's name; the first is the default. */
  models: string[];
  device: string;
  /** Most bytes in one request body (413 beyond it). */
  bodyLimit: number;
  /** Tokens per sentence and bytes per item (an item is what `spinn predict` reads as one line). */
  limits: InputLimits;
}

export const DEFAULT_BATCHING: Readonly<BatchingOptions> = Object.freeze({
  // 64 pairs keep one batch of SNLI-sized sentences within a few tens of milliseconds on 2 cores,
  // so a single request waits for at most one batch in front of it.
  maxBatch: 64,
  maxWaitMs: 5,
  queue: 1024,
  timeoutMs: 30_000,
});

export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

export function defaultServeOptions(models: string[], overrides: Partial<ServeOptions> = {}): ServeOptions {
  return {
    models,
    device: "cpu",
    bodyLimit: DEFAULT_BODY_LIMIT,
    limits: { ...DEFAULT_INPUT_LIMITS },
    ...DEFAULT_BATCHING,
    ...overrides,
  };
}
