// `spinn bench`: training and evaluation throughput of a model on NLI pairs (a data file, or
// random trees with SNLI-like lengths), with memory, in one JSON-able result. The defaults match
// the PyTorch reference in ../shared/bench/spinn_torch.py (300-d, tracker 64, MLP 2 × 1024,
// batch 128, Adam 1e-3, trained embeddings) so the two can be run side by side.
import { availableParallelism } from "node:os";
import { type Batch, encodeNliBatch, lengthsOf, trainingBatches } from "../data/batching.js";
import type { NliExample } from "../data/nli.js";
import { Rng } from "../data/rng.js";
import { randomTransitions } from "../data/transitions.js";
import { Vocabulary } from "../data/vocabulary.js";
import {
  Adam,
  checkDevice,
  crossEntropy,
  type Device,
  manualSeed,
  memory,
  noGrad,
  randn,
  runtimeInfo,
  scope,
  synchronize,
  tensor,
} from "../engine/index.js";
import { composesTrees, type EncoderKind } from "../models/kinds.js";
import { defaultConfig, Model } from "../models/model.js";
import { nliTrainingStepFlops } from "./flops.js";
import { readTaskData } from "./task.js";

export interface BenchOptions {
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
  dEmbed: number;
  dHidden: number;
  dTracker: number;
  dMlp: number;
  nMlp: number;
  device: Device;
  seed: number;
}

export const DEFAULT_BENCH: Omit<BenchOptions, "data" | "synthetic" | "length"> = {
  model: "spinn-pi",
  batchSize: 128,
  steps: 20,
  warmup: 2,
  evalBatches: 20,
  dEmbed: 300,
  dHidden: 300,
  dTracker: 64,
  dMlp: 1024,
  nMlp: 2,
  device: "cpu",
  seed: 1,
};

/**
 * Pairs of random trees with SNLI-like lengths (premise ~ N(14, 6), hypothesis ~ N(8, 3)), or
 * with every sentence `length` words long.
 */
export function syntheticPairs(
  count: number,
  vocabSize: number,
  seed: number,
  length?: number,
): NliExample[] {
  const rng = new Rng(seed);
  const sentence = (mean: number, std: number, max: number) => {
    const n = length ?? Math.max(2, Math.min(max, Math.round(rng.normal(mean, std))));
    return {
      tokens: Array.from({ length: n }, () => `w${2 + rng.int(vocabSize - 2)}`),
      transitions: randomTransitions(n, rng),
    };
  };
  return Array.from({ length: count }, (_, i) => ({
    id: String(i),
    label: rng.int(3),
    premise: sentence(14, 6, 60),
    hypothesis: sentence(8, 3, 40),
    source: { file: "<synthetic>", line: i + 1 },
  }));
}

export interface BenchResult {
  bench: "spinn";
  model: EncoderKind;
  device: string;
  data: string;
  pairs: number;
  config: Omit<BenchOptions, "data" | "synthetic" | "length">;
  train_pairs_per_s: number;
  eval_pairs_per_s: number;
  train_seconds: number;
  first_loss: number;
  last_loss: number;
  /** Peak resident set size of the process, MiB. */
  peak_rss_mib: number;
  /** Live native tensors and their bytes after each pass over the timed steps (flat = no leak). */
  live_tensors: number[];
  live_mib: number[];
  /**
   * SPINN models: the matrix-product work of the timed training steps (forward and backward),
   * per pair and per second, and the rate a single large product of the composition's shape
   * reaches on this machine in the same run: the ceiling the training rate is measured against.
   */
  train_gflop_per_pair?: number;
  train_gflop_per_s?: number;
  matmul_gflop_per_s: number;
  cuda_mib?: number;
  versions: { node: string; torch: string; threads: number; blas_threads: number | null; cores: number };
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  checkDevice(o.device);
  manualSeed(o.seed);
  const examples = o.synthetic
    ? syntheticPairs(o.synthetic, 20000, o.seed, o.length)
    : ((await readTaskData(o.data!, "nli")).examples as NliExample[]);
  const vocab = Vocabulary.build(examples.flatMap((e) => [e.premise.tokens, e.hypothesis.tokens]));
  const config = {
    ...defaultConfig("nli", o.model, vocab.size),
    dEmbed: o.dEmbed,
    dHidden: o.dHidden,
    dTracker: o.dTracker,
    dMlp: o.dMlp,
    nMlp: o.nMlp,
  };
  const model = new Model(config, { device: o.device });
  const optimizer = new Adam(model.store.trainable(), { lr: 1e-3 });
  const rng = new Rng(o.seed);
  let batches: Batch[] = [];
  let next = 0;
  const nextBatch = () => {
    if (next >= batches.length) {
      batches = trainingBatches(lengthsOf(examples), { batchSize: o.batchSize, rng });
      next = 0;
    }
    return encodeNliBatch(examples, batches[next++]!, vocab);
  };
  let peakRss = process.memoryUsage().rss;
  const losses: number[] = [];
  const liveTensors: number[] = [];
  const liveMib: number[] = [];
  let flops = 0;
  const countFlops = composesTrees(o.model);
  const step = () => {
    const batch = nextBatch();
    if (countFlops) flops += nliTrainingStepFlops(batch, config);
    const loss = scope(() => {
      optimizer.zeroGrad();
      const l = crossEntropy(model.forward(batch, true), tensor(batch.labels, { device: o.device }));
      l.backward();
      optimizer.step();
      return l.item();
    });
    losses.push(loss);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    return batch.labels.length;
  };

  for (let i = 0; i < o.warmup; i++) step();
  synchronize();
  flops = 0;
  let pairs = 0;
  const t0 = performance.now();
  // Two halves, so the live-memory figures show whether anything grows from one to the next.
  for (const half of [0, 1]) {
    const steps = half === 0 ? Math.floor(o.steps / 2) : o.steps - Math.floor(o.steps / 2);
    for (let i = 0; i < steps; i++) pairs += step();
    const m = memory();
    liveTensors.push(m.tensors);
    liveMib.push(+(m.bytes / 2 ** 20).toFixed(1));
  }
  synchronize();
  const trainSeconds = (performance.now() - t0) / 1000;

  let evalPairs = 0;
  const e0 = performance.now();
  noGrad(() => {
    for (let i = 0; i < o.evalBatches; i++) {
      const batch = nextBatch();
      scope(() => model.forward(batch, false).argmax(1).toInt32Array());
      evalPairs += batch.labels.length;
    }
  });
  synchronize();
  const evalSeconds = (performance.now() - e0) / 1000;
  const matmul = matmulRate(2 * o.dHidden + o.dTracker, 5 * o.dHidden, o.batchSize * 2, o.device);
  const info = runtimeInfo();
  const cudaMib = o.device === "cpu" ? undefined : +(memory().cudaBytes / 2 ** 20).toFixed(1);
  optimizer.dispose();
  model.dispose();
  const { data: _d, synthetic: _s, length: _l, ...cfg } = o;
  return {
    bench: "spinn",
    model: o.model,
    device: o.device,
    data: o.synthetic ? `synthetic:${o.synthetic}${o.length ? `:length-${o.length}` : ""}` : o.data!,
    pairs: examples.length,
    config: cfg,
    train_pairs_per_s: +(pairs / trainSeconds).toFixed(2),
    eval_pairs_per_s: +(evalPairs / evalSeconds).toFixed(2),
    train_seconds: +trainSeconds.toFixed(3),
    first_loss: +losses[0]!.toFixed(4),
    last_loss: +losses[losses.length - 1]!.toFixed(4),
    peak_rss_mib: +(peakRss / 2 ** 20).toFixed(1),
    live_tensors: liveTensors,
    live_mib: liveMib,
    ...(countFlops
      ? {
          train_gflop_per_pair: +(flops / 1e9 / pairs).toFixed(4),
          train_gflop_per_s: +(flops / 1e9 / trainSeconds).toFixed(1),
        }
      : {}),
    matmul_gflop_per_s: +matmul.toFixed(1),
    ...(cudaMib === undefined ? {} : { cuda_mib: cudaMib }),
    versions: {
      node: process.version,
      torch: info.torchVersion,
      threads: info.threads,
      blas_threads: info.blasThreads,
      cores: availableParallelism(),
    },
  };
}

/** GFLOP/s of rows × k · k × n products (the median of 7 after a warm-up). */
function matmulRate(k: number, n: number, rows: number, device: Device): number {
  return scope(() => {
    const x = randn([rows, k], { device });
    const w = randn([k, n], { device });
    const times: number[] = [];
    for (let i = 0; i < 8; i++) {
      synchronize();
      const t0 = performance.now();
      scope(() => x.mm(w));
      synchronize();
      if (i > 0) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return (2 * rows * k * n) / (times[3]! / 1000) / 1e9;
  });
}
