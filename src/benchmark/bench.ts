// `spinn bench`: training and evaluation throughput of a model on NLI pairs (a data file, or
// random trees with SNLI-like lengths), with memory, in one JSON-able result. The defaults match
// the PyTorch reference in ../shared/bench/spinn_torch.py (300-d, tracker 64, MLP 2 × 1024,
// batch 128, Adam 1e-3, trained embeddings) so the two can be run side by side.
import { availableParallelism } from "node:os";
import {
  type Batch,
  batchTokens,
  encodeNliBatch,
  lengthsOf,
  type NliBatch,
  trainingBatches,
} from "../data/batching.js";
import type { NliExample } from "../data/nli.js";
import { Rng } from "../data/rng.js";
import { randomTransitions } from "../data/transitions.js";
import { Vocabulary } from "../data/vocabulary.js";
import {
  Adam,
  checkDevice,
  countNativeCalls,
  type Device,
  manualSeed,
  memory,
  type NativeCallCounts,
  noGrad,
  randn,
  runtimeInfo,
  scope,
  synchronize,
} from "../engine/index.js";
import { composesTrees, type EncoderKind } from "../models/kinds.js";
import { defaultConfig, Model } from "../models/model.js";
import { parserConfig } from "../models/parser.js";
import { sizesOf } from "../models/sizes.js";
import { readTaskData } from "../tasks/task.js";
import { Objective } from "../training/objective.js";
import { TRAIN_DEFAULTS } from "../training/options.js";
import { type StepResult, trainStep } from "../training/step.js";
import { nliTrainingStepFlops } from "./flops.js";
import type { BenchOptions } from "./options.js";
import { peakRssBytes, resetPeakRss } from "./peak-rss.js";

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
  /**
   * Peak resident set size up to the end of the timed steps, MiB: the kernel's high-water mark
   * (peak-rss.ts), which sees the peak inside a step, not only between steps; since this run
   * began ("run"), or, where the kernel does not let a process reset it, since the process
   * began ("process": in a --length sweep, the peak of the sweep so far).
   */
  peak_rss_mib: number;
  peak_rss_since: "run" | "process";
  /**
   * The largest cost (sentences × transitions, data/batching.ts batchTokens()) of the training
   * batches run, warm-up included: what --batch-tokens bounds. (The graph itself follows the
   * batch's real transitions, which padding makes fewer: BENCHMARKS.md, "Memory".)
   */
  largest_batch_tokens: number;
  /** Resident set size before the model is built (Node, libtorch and the data loaded), MiB. */
  rss_before_model_mib: number;
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
  /**
   * Calls into the native addon and host <-> device synchronisations (readbacks) per timed
   * training step and per evaluation batch (means, counted exactly around each one), and the
   * training step's most frequent entry points. On a GPU each call is at least one launch and
   * each sync a stall, so these bound a step's speed there.
   */
  native_calls_per_train_step: number;
  host_syncs_per_train_step: number;
  native_calls_per_eval_batch: number;
  host_syncs_per_eval_batch: number;
  native_calls_by_name_per_train_step: Record<string, number>;
  cuda_mib?: number;
  versions: {
    node: string;
    torch: string;
    threads: number;
    blas_threads: number | null;
    cpu_allocator: "mimalloc" | "system";
    /** Products without gradients at small row counts on a packed weight (runtimeInfo().packedLinear). */
    packed_linear: boolean;
    cores: number;
  };
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  checkDevice(o.device);
  manualSeed(o.seed);
  // This run's own peak, also when runs follow each other in one process (a --length sweep).
  const ownPeak = resetPeakRss();
  const examples = o.synthetic
    ? syntheticPairs(o.synthetic, 20000, o.seed, o.length)
    : ((await readTaskData(o.data!, "nli")).examples as NliExample[]);
  const vocab = Vocabulary.build(examples.flatMap((e) => [e.premise.tokens, e.hypothesis.tokens]));
  const rssBeforeModel = process.memoryUsage().rss;
  const config = {
    ...defaultConfig("nli", o.model, vocab.size),
    ...sizesOf(o),
    ...parserConfig(o.parser, o),
  };
  const model = new Model(config, { device: o.device });
  // The reference's optimizer; the step, objective and clipping are the trainer's own.
  const optimizer = new Adam(model.store.trainable(), { lr: 1e-3 });
  const objective = new Objective(TRAIN_DEFAULTS);
  const batches = endlessBatches(examples, vocab, o);
  // The count covers the composer and its tracker, not a separate parser's own work.
  const countFlops = composesTrees(o.model) && o.parser === "shared";
  let flops = 0;
  const step = () => {
    const batch = batches.next();
    if (countFlops) flops += nliTrainingStepFlops(batch, config);
    return trainStep(model, optimizer, objective, batch, TRAIN_DEFAULTS.clip);
  };
  const training = timeTraining(o, step, () => {
    flops = 0;
  });
  const largestBatchTokens = batches.largestTokens;
  const evaluation = timeEvaluation(model, batches, o.evalBatches);
  const matmul = matmulRate(2 * o.dHidden + o.dTracker, 5 * o.dHidden, o.batchSize * 2, o.device);
  const cudaMib = o.device === "cpu" ? undefined : +(memory().cudaBytes / 2 ** 20).toFixed(1);
  optimizer.dispose();
  model.dispose();
  const { data: _d, synthetic: _s, length: _l, ...cfg } = o;
  const { pairs, seconds, losses } = training;
  return {
    bench: "spinn",
    model: o.model,
    device: o.device,
    data: o.synthetic ? `synthetic:${o.synthetic}${o.length ? `:length-${o.length}` : ""}` : o.data!,
    pairs: examples.length,
    config: cfg,
    train_pairs_per_s: +(pairs / seconds).toFixed(2),
    eval_pairs_per_s: +evaluation.pairsPerSecond.toFixed(2),
    train_seconds: +seconds.toFixed(3),
    first_loss: +losses[0]!.toFixed(4),
    last_loss: +losses[losses.length - 1]!.toFixed(4),
    peak_rss_mib: +(training.peakRss / 2 ** 20).toFixed(1),
    peak_rss_since: ownPeak ? "run" : "process",
    largest_batch_tokens: largestBatchTokens,
    rss_before_model_mib: +(rssBeforeModel / 2 ** 20).toFixed(1),
    live_tensors: training.liveTensors,
    live_mib: training.liveMib,
    ...(countFlops
      ? {
          train_gflop_per_pair: +(flops / 1e9 / pairs).toFixed(4),
          train_gflop_per_s: +(flops / 1e9 / seconds).toFixed(1),
        }
      : {}),
    matmul_gflop_per_s: +matmul.toFixed(1),
    native_calls_per_train_step: +(training.calls.calls / o.steps).toFixed(1),
    host_syncs_per_train_step: +(training.calls.syncs / o.steps).toFixed(2),
    native_calls_per_eval_batch: +(evaluation.calls.calls / o.evalBatches).toFixed(1),
    host_syncs_per_eval_batch: +(evaluation.calls.syncs / o.evalBatches).toFixed(2),
    native_calls_by_name_per_train_step: topCalls(training.calls.byName, o.steps, 12),
    ...(cudaMib === undefined ? {} : { cuda_mib: cudaMib }),
    versions: versions(),
  };
}

/**
 * Training batches without end: a new seeded epoch of length-bucketed batches when one runs out,
 * within the token budget as the trainer's are (the evaluation timing takes them too).
 */
function endlessBatches(
  examples: NliExample[],
  vocab: Vocabulary,
  o: BenchOptions,
): { next(): NliBatch; readonly largestTokens: number } {
  const rng = new Rng(o.seed);
  const keys = lengthsOf(examples);
  let batches: Batch[] = [];
  let index = 0;
  let largestTokens = 0;
  return {
    next() {
      if (index >= batches.length) {
        batches = trainingBatches(keys, {
          batchSize: o.batchSize,
          rng,
          ...(o.batchTokens > 0 ? { batchTokens: o.batchTokens } : {}),
        });
        index = 0;
      }
      const plan = batches[index++]!;
      largestTokens = Math.max(largestTokens, batchTokens(keys, plan.indices));
      return encodeNliBatch(examples, plan, vocab);
    },
    get largestTokens() {
      return largestTokens;
    },
  };
}

interface TrainingTiming {
  pairs: number;
  seconds: number;
  losses: number[];
  peakRss: number;
  liveTensors: number[];
  liveMib: number[];
  /** Native calls of the timed steps (counted around each step, outside the timing's own calls). */
  calls: NativeCallCounts;
}

/** Untimed warm-up steps (then `afterWarmup`), then the timed ones in two halves. */
function timeTraining(o: BenchOptions, step: () => StepResult, afterWarmup: () => void): TrainingTiming {
  const t: TrainingTiming = {
    pairs: 0,
    seconds: 0,
    losses: [],
    peakRss: 0,
    liveTensors: [],
    liveMib: [],
    calls: { calls: 0, syncs: 0, byName: {} },
  };
  let timed = false;
  const run = () => {
    const stop = timed ? countNativeCalls() : null;
    const r = step();
    if (stop) addCounts(t.calls, stop());
    t.losses.push(r.loss);
    return r.examples;
  };
  for (let i = 0; i < o.warmup; i++) run();
  synchronize();
  afterWarmup();
  timed = true;
  const t0 = performance.now();
  // Two halves, so the live-memory figures show whether anything grows from one to the next.
  for (const half of [0, 1]) {
    const steps = half === 0 ? Math.floor(o.steps / 2) : o.steps - Math.floor(o.steps / 2);
    for (let i = 0; i < steps; i++) t.pairs += run();
    const m = memory();
    t.liveTensors.push(m.tensors);
    t.liveMib.push(+(m.bytes / 2 ** 20).toFixed(1));
  }
  synchronize();
  t.seconds = (performance.now() - t0) / 1000;
  t.peakRss = peakRssBytes();
  return t;
}

/** Evaluation pairs per second over `count` batches (no gradients, predictions read back). */
function timeEvaluation(
  model: Model,
  batches: { next(): NliBatch },
  count: number,
): { pairsPerSecond: number; calls: NativeCallCounts } {
  let pairs = 0;
  const calls: NativeCallCounts = { calls: 0, syncs: 0, byName: {} };
  const t0 = performance.now();
  noGrad(() => {
    for (let i = 0; i < count; i++) {
      const batch = batches.next();
      const stop = countNativeCalls();
      scope(() => model.forward(batch, false).argmax(1).toInt32Array());
      addCounts(calls, stop());
      pairs += batch.labels.length;
    }
  });
  synchronize();
  return { pairsPerSecond: pairs / ((performance.now() - t0) / 1000), calls };
}

function addCounts(total: NativeCallCounts, more: NativeCallCounts): void {
  total.calls += more.calls;
  total.syncs += more.syncs;
  for (const [name, n] of Object.entries(more.byName)) total.byName[name] = (total.byName[name] ?? 0) + n;
}

/** The `top` most called entry points, calls per step. */
function topCalls(byName: Record<string, number>, steps: number, top: number): Record<string, number> {
  const sorted = Object.entries(byName).sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(sorted.slice(0, top).map(([name, n]) => [name, +(n / steps).toFixed(1)]));
}

function versions(): BenchResult["versions"] {
  const info = runtimeInfo();
  return {
    node: process.version,
    torch: info.torchVersion,
    threads: info.threads,
    blas_threads: info.blasThreads,
    cpu_allocator: info.cpuAllocator,
    packed_linear: info.packedLinear,
    cores: availableParallelism(),
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
