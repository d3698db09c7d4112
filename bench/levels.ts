// `npm run bench:levels` (issue 16): the shipped listops-pi (SPINN-PI-NT) through the library's
// predictListOps on its sample repeated to 1,024 expressions, composing by tree level (the
// default, in evaluation and training) against the step path (SpinnEncoder.byLevel = false), in
// (a) batches of 256 sorted by length and (b) arrival-order batches of 64, as
// bench/shipped-model-rate.ts's offlineRate runs them. The two paths alternate within each round, so both see the same machine load. Also
// reports the sequential steps each path costs on the arrival batches (the step path: 2n − 1
// transitions of a batch's longest expression; the level path: its tallest tree's height).
// Then training: a fresh model of listops-pi's configuration, Adam, trained on the sample
// repeated to 1,024 expressions in the trainer's batches (64 expressions within the default token
// budget), on both paths alternately (expressions per second of training steps).
// Prints one JSON object. BENCH_ROUNDS (3), BENCH_SECONDS (4 per measurement).
import { availableParallelism, loadavg } from "node:os";
import path from "node:path";
import { trainingBatches } from "../src/data/batching.js";
import { parseListOpsExpression } from "../src/data/listops.js";
import { Rng } from "../src/data/rng.js";
import { REDUCE, SKIP } from "../src/data/transitions.js";
import { Adam } from "../src/engine/index.js";
import { predictListOps } from "../src/inference/raw-input.js";
import { Model } from "../src/models/model.js";
import { loadModelDir } from "../src/models/model-dir.js";
import { pretrainedDir } from "../src/models/pretrained.js";
import type { SpinnEncoder } from "../src/models/spinn.js";
import { batchFor, lengthKeys, readTaskData } from "../src/tasks/task.js";
import { Objective } from "../src/training/objective.js";
import { TRAIN_DEFAULTS } from "../src/training/options.js";
import { trainStep } from "../src/training/step.js";
import { itemsPerSecond } from "./items-per-second.js";
import { itemsOf } from "./shipped-model-rate.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const dir = pretrainedDir("listops-pi");
const sample = itemsOf("listops-pi").map((item) => (item as { expression: string }).expression);
const many = Array.from({ length: 1024 }, (_, i) => sample[i % sample.length]!);
const loaded = loadModelDir(dir);
const encoder = loaded.model.encoder as SpinnEncoder;

/** Expressions per second for about `seconds`: 1,024 per pass, `perCall` per library call. */
function rate(batchSize: number, perCall: number): number {
  return itemsPerSecond(sample, perCall, seconds, (part) => predictListOps(loaded, part, { batchSize }));
}

/** A tree's height from its transitions (leaves 0). */
function height(transitions: ArrayLike<number>): number {
  const stack: number[] = [];
  for (const t of Array.from(transitions)) {
    if (t === REDUCE) stack.push(1 + Math.max(stack.pop()!, stack.pop()!));
    else if (t !== SKIP) stack.push(0);
  }
  return stack[0] ?? 0;
}

/**
 * Sequential steps over the 1,024 items in arrival batches of 64, summed over the batches: the
 * step path's (2n − 1 of each batch's longest expression) and the level path's (its tallest tree).
 */
function sequentialSteps(): { step_path: number; level_path: number } {
  const trees = many.map((e) => parseListOpsExpression(e));
  let steps = 0;
  let levels = 0;
  for (let at = 0; at < trees.length; at += 64) {
    const part = trees.slice(at, at + 64);
    steps += Math.max(...part.map((t) => 2 * t.tokens.length - 1));
    levels += Math.max(...part.map((t) => height(t.transitions!)));
  }
  return { step_path: steps, level_path: levels };
}

const sampleData = await readTaskData(path.join(dir, "sample.tsv"), "listops");
const data = {
  ...sampleData,
  examples: Array.from({ length: 1024 }, (_, i) => sampleData.examples[i % sampleData.examples.length]!),
};
const trainee = new Model(loaded.model.config);
const optimizer = new Adam(trainee.store.trainable(), { lr: 1e-3 });
const objective = new Objective(TRAIN_DEFAULTS);
const plans = trainingBatches(lengthKeys(data), {
  batchSize: 64,
  batchTokens: TRAIN_DEFAULTS.batchTokens,
  rng: new Rng(1),
});

/** Training expressions per second for about `seconds` (whole passes over the 1,024). */
function trainingRate(): number {
  // itemsPerSecond's calls of 1,024 items: one pass over the batches each.
  return itemsPerSecond(data.examples, data.examples.length, seconds, () => {
    for (const plan of plans)
      trainStep(trainee, optimizer, objective, batchFor(data, plan, loaded.vocab), TRAIN_DEFAULTS.clip);
  });
}

const results: Record<string, { step: number[]; level: number[] }> = {
  sorted_batches_256: { step: [], level: [] },
  arrival_batches_64: { step: [], level: [] },
  training_batches_64: { step: [], level: [] },
};
for (let r = 0; r < rounds; r++) {
  for (const byLevel of r % 2 === 0 ? [false, true] : [true, false]) {
    encoder.byLevel = byLevel;
    (trainee.encoder as SpinnEncoder).byLevel = byLevel;
    const key = byLevel ? "level" : "step";
    results.sorted_batches_256![key].push(rate(256, 1024));
    results.arrival_batches_64![key].push(rate(64, 64));
    results.training_batches_64![key].push(trainingRate());
  }
}
encoder.byLevel = true;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x);
const report = {
  benchmark: "levels",
  model: "listops-pi",
  items: many.length,
  rounds,
  seconds_per_measurement: seconds,
  cpus: availableParallelism(),
  sequential_steps_arrival_batches_64: sequentialSteps(),
  load_average: loadavg().map((x) => Math.round(x * 10) / 10),
  ...Object.fromEntries(
    Object.entries(results).map(([k, v]) => [
      k,
      {
        step_path_items_per_s: round(median(v.step)),
        level_path_items_per_s: round(median(v.level)),
        speedup: Math.round((median(v.level) / median(v.step)) * 100) / 100,
        step_runs: v.step.map(round),
        level_runs: v.level.map(round),
      },
    ]),
  ),
};
console.log(JSON.stringify(report, null, 2));
optimizer.dispose();
trainee.dispose();
loaded.model.dispose();
