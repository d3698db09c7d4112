// `npm run bench:train-memory`: where training's memory goes, step by step and phase by phase.
// The step of `spinn bench` (SPINN-PI, the reference's sizes, Adam, batch 128 on the SNLI
// subset), cut into its phases — forward, backward, clip and update — with the kernel's
// high-water mark reset before each (src/benchmark/peak-rss.ts), so each phase's peak is its own.
// Prints one JSON object: every step's batch (pairs, cost, real transitions), the RSS before it,
// each phase's peak, V8's heap, and the run's peak.
//   TRAIN_MEMORY_DATA (the SNLI train subset), TRAIN_MEMORY_BATCH_TOKENS (the training default;
//   0: count batches), TRAIN_MEMORY_STEPS (a whole epoch), TRAIN_MEMORY_RELEASE=1 (malloc_trim
//   after every step), TRAIN_MEMORY_GC=1 (a full V8 collection before every step: run with
//   node --expose-gc)
// Run under MALLOC_MMAP_THRESHOLD_=4096 for the memory in use rather than the allocator's RSS.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { peakRssBytes, resetPeakRss } from "../src/benchmark/peak-rss.js";
import {
  batchTokens,
  DEFAULT_TRAIN_BATCH_TOKENS,
  encodeNliBatch,
  lengthsOf,
  trainingBatches,
} from "../src/data/batching.js";
import type { NliExample } from "../src/data/nli.js";
import { Rng } from "../src/data/rng.js";
import { Vocabulary } from "../src/data/vocabulary.js";
import { Adam, clipGradNorm, manualSeed, releaseFreeMemory, scope } from "../src/engine/index.js";
import { defaultConfig, Model } from "../src/models/model.js";
import { readTaskData } from "../src/tasks/task.js";
import { Objective, wholeBatch } from "../src/training/objective.js";
import { TRAIN_DEFAULTS } from "../src/training/options.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataFile =
  process.env.TRAIN_MEMORY_DATA ?? path.resolve(root, "../shared/data/snli/snli_1.0_train_subset.jsonl");
const budget = Number(process.env.TRAIN_MEMORY_BATCH_TOKENS ?? DEFAULT_TRAIN_BATCH_TOKENS);
const release = process.env.TRAIN_MEMORY_RELEASE === "1";
const collect = process.env.TRAIN_MEMORY_GC === "1" ? (globalThis as { gc?: () => void }).gc : undefined;
if (process.env.TRAIN_MEMORY_GC === "1" && !collect)
  throw new Error("TRAIN_MEMORY_GC=1 needs node --expose-gc");

const MiB = 2 ** 20;
const mib = (bytes: number) => +(bytes / MiB).toFixed(1);

manualSeed(1);
const examples = (await readTaskData(dataFile, "nli")).examples as NliExample[];
const vocab = Vocabulary.build(examples.flatMap((e) => [e.premise.tokens, e.hypothesis.tokens]));
const model = new Model(defaultConfig("nli", "spinn-pi", vocab.size), { device: "cpu" });
const optimizer = new Adam(model.store.trainable(), { lr: 1e-3 });
const objective = new Objective(TRAIN_DEFAULTS);
const keys = lengthsOf(examples);
const plans = trainingBatches(keys, {
  batchSize: 128,
  rng: new Rng(1),
  ...(budget > 0 ? { batchTokens: budget } : {}),
});
const steps = Math.min(plans.length, Number(process.env.TRAIN_MEMORY_STEPS ?? plans.length));
const setupRss = process.memoryUsage().rss;

/** The kernel's high-water mark of `phase` alone. */
function peakOf(phase: () => void): number {
  resetPeakRss();
  phase();
  return mib(peakRssBytes());
}

interface StepMemory {
  step: number;
  pairs: number;
  cost: number;
  real_transitions: number;
  rss_before_mib: number;
  forward_peak_mib: number;
  backward_peak_mib: number;
  update_peak_mib: number;
  rss_after_mib: number;
  heap_total_mib: number;
}

const rows: StepMemory[] = [];
for (let i = 0; i < steps; i++) {
  const plan = plans[i]!;
  collect?.();
  const before = process.memoryUsage().rss;
  const batch = encodeNliBatch(examples, plan, vocab);
  const phases = scope(() => {
    optimizer.zeroGrad();
    let loss: ReturnType<Objective["loss"]> | undefined;
    const forward = peakOf(() => {
      loss = objective.loss(model, batch, wholeBatch(batch));
    });
    const backward = peakOf(() => loss!.total.backward());
    const update = peakOf(() => {
      clipGradNorm(optimizer.params, TRAIN_DEFAULTS.clip);
      optimizer.step();
    });
    return { forward, backward, update };
  });
  if (release) releaseFreeMemory();
  const real = plan.indices.reduce((n, k) => n + 2 * keys.primary[k]! - 1 + 2 * keys.secondary![k]! - 1, 0);
  rows.push({
    step: i + 1,
    pairs: plan.indices.length,
    cost: batchTokens(keys, plan.indices),
    real_transitions: real,
    rss_before_mib: mib(before),
    forward_peak_mib: phases.forward,
    backward_peak_mib: phases.backward,
    update_peak_mib: phases.update,
    rss_after_mib: mib(process.memoryUsage().rss),
    heap_total_mib: mib(process.memoryUsage().heapTotal),
  });
}
const stepPeak = (r: StepMemory) => Math.max(r.forward_peak_mib, r.backward_peak_mib, r.update_peak_mib);
const peak = rows.reduce((a, r) => (stepPeak(a) >= stepPeak(r) ? a : r));
process.stdout.write(
  `${JSON.stringify({
    bench: "train memory",
    data: dataFile,
    batch_tokens: budget,
    release_each_step: release,
    gc_each_step: Boolean(collect),
    malloc_mmap_threshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? null,
    setup_rss_mib: mib(setupRss),
    peak_mib: stepPeak(peak),
    peak_step: peak,
    steps: rows,
  })}\n`,
);
