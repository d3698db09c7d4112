// The server's settings and their defaults, kept free of the tensor engine so that the CLI can
// check flags and print help without loading libtorch.
import { availableParallelism } from "node:os";
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
  /**
   * Model worker threads, each with its own copy of the models, each running its rolling batches
   * and one gathered batch at a time (on one BLAS thread when there are several).
   */
  workers: number;
  /** Most bytes in one request body (413 beyond it). */
  bodyLimit: number;
  /** Tokens per sentence and bytes per item (an item is what `spinn predict` reads as one line). */
  limits: InputLimits;
  /**
   * Continuous batching for the models that can (a SPINN with a tracker, src/inference/rolling-batch.ts):
   * items join the batch running in a worker at its next transition step and leave it when done,
   * up to `maxBatch` items per worker. False: every model's items are gathered into batches.
   */
  rolling: boolean;
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

/** The most workers `--workers` takes: each holds the models and a thread of its own. */
export const MAX_WORKERS = 64;

/**
 * The default --workers: one per core, at most 8. Independent batches on one BLAS thread each
 * beat one batch spread over every core at the batch sizes a server forms (on 2 cores, two
 * single-threaded workers at batch 32 gave 1.2x (SNLI) and 1.6x (ListOps) one two-threaded worker
 * at batch 64). The cap: every worker loads its own copy of the models and holds a thread, and
 * under a given load more workers mean smaller batches, whose per-step cost a tree encoder
 * barely shares (nothing above 2 cores was measured).
 */
export function defaultWorkers(): number {
  return Math.min(8, availableParallelism());
}

export function defaultServeOptions(models: string[], overrides: Partial<ServeOptions> = {}): ServeOptions {
  return {
    models,
    device: "cpu",
    workers: defaultWorkers(),
    bodyLimit: DEFAULT_BODY_LIMIT,
    limits: { ...DEFAULT_INPUT_LIMITS },
    rolling: true,
    ...DEFAULT_BATCHING,
    ...overrides,
  };
}
