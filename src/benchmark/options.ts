// What `spinn bench` measures and with which model, with its defaults: the PyTorch reference's
// settings (../shared/bench/spinn_torch.py: 300-d, tracker 64, MLP 2 × 1024, batch 128, Adam
// 1e-3), so that the two run side by side. Engine-free, so the CLI can document it cheaply.
import type { Device } from "../engine/dtype.js";
import type { EncoderKind } from "../models/kinds.js";
import { DEFAULT_SIZES, type ModelSizes } from "../models/sizes.js";

export interface BenchOptions extends ModelSizes {
  data?: string;
  /** Random trees instead of a file: this many pairs. */
  synthetic?: number;
  /** Synthetic pairs whose two sentences both have exactly this many words (scaling figures). */
  length?: number;
  model: EncoderKind;
  batchSize: number;
  steps: number;
  warmup: number;
  evalBatches: number;
  device: Device;
  seed: number;
}

export const DEFAULT_BENCH: Omit<BenchOptions, "data" | "synthetic" | "length"> = {
  model: "spinn-pi",
  batchSize: 128,
  steps: 20,
  warmup: 2,
  evalBatches: 20,
  ...DEFAULT_SIZES,
  device: "cpu",
  seed: 1,
};
