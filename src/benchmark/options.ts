// What `spinn bench` measures and with which model, with its defaults: the PyTorch reference's
// settings (../shared/bench/spinn_torch.py: 300-d, tracker 64, MLP 2 × 1024, batch 128, Adam
// 1e-3), so that the two run side by side, and batches made as the trainer makes them (its
// default token budget). Engine-free, so the CLI can document it cheaply.
import { DEFAULT_TRAIN_BATCH_TOKENS } from "../data/batching.js";
import type { Device } from "../engine/dtype.js";
import type { EncoderKind, ParserKind } from "../models/kinds.js";
import { DEFAULT_SIZES, type ModelSizes } from "../models/sizes.js";

export interface BenchOptions extends ModelSizes {
  data?: string;
  /** Random trees instead of a file: this many pairs. */
  synthetic?: number;
  /** Synthetic pairs whose two sentences both have exactly this many words (scaling figures). */
  length?: number;
  model: EncoderKind;
  /** What decides a parsing model's transitions (`spinn train --parser`), sized as the composer. */
  parser: ParserKind;
  batchSize: number;
  /** The training batches' token budget, as `spinn train --batch-tokens` (0: count batches). */
  batchTokens: number;
  steps: number;
  warmup: number;
  evalBatches: number;
  device: Device;
  seed: number;
}

export const DEFAULT_BENCH: Omit<BenchOptions, "data" | "synthetic" | "length"> = {
  model: "spinn-pi",
  parser: "shared",
  batchSize: 128,
  batchTokens: DEFAULT_TRAIN_BATCH_TOKENS,
  steps: 20,
  warmup: 2,
  evalBatches: 20,
  ...DEFAULT_SIZES,
  device: "cpu",
  seed: 1,
};
