// Data-parallel training gives the weights of a single process: the same global batches, split
// over 2 workers (unevenly: batches of 7 split 3 + 4, the epoch's last batch smaller still), end
// with the same weights as one process training on them alone, for every model kind (RL-SPINN
// with its sampled trees and each of its batch-statistic baselines too), in float64 to 1e-9.
// Dropout is on, batch norm is everywhere, and the dev evaluation is sharded.
//
// SGD with momentum, not Adam or RMSprop: those divide by the gradient's running magnitude, so a
// gradient that is zero in exact arithmetic (a bias before batch norm) and ±1e-18 after rounding
// would move by ±lr in either run — the float sums of two ranks are not bit-for-bit a single
// process's, only equal to ~1e-16.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { generateListOps, loadSafetensors } from "../../src/index.js";
import { freePort, runNode, skipReason } from "./helpers.js";

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), "train-worker.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-dist-"));
const skip = skipReason() ?? false;

const nliLines: string[] = [];
const words = ["dog", "cat", "bird", "man"];
const verbs = ["sleeps", "runs", "eats"];
const labels = ["entailment", "neutral", "contradiction"];
for (let i = 0; i < 26; i++) {
  const w = words[i % 4]!;
  const v = verbs[i % 3]!;
  const long = i % 5 === 0 ? " very much" : "";
  nliLines.push(
    JSON.stringify({
      gold_label: labels[(i * 7) % 3],
      sentence1: `A ${w} ${v}${long} .`,
      sentence2: `The ${w} ${verbs[(i + 1) % 3]} .`,
      sentence1_binary_parse: long
        ? `( ( A ${w} ) ( ( ${v} ( very much ) ) . ) )`
        : `( ( A ${w} ) ( ${v} . ) )`,
      sentence2_binary_parse: `( ( The ${w} ) ( ${verbs[(i + 1) % 3]} . ) )`,
    }),
  );
}
const nli = path.join(dir, "nli.jsonl");
writeFileSync(nli, `${nliLines.join("\n")}\n`);
const listops = path.join(dir, "listops.tsv");
writeFileSync(listops, `${generateListOps({ count: 26, seed: 3, maxLength: 12 }).lines.join("\n")}\n`);

const sizes = { dEmbed: 6, dHidden: 5, dTracker: 3, dMlp: 7, nMlp: 1, embedDropout: 0.2, mlpDropout: 0.3 };

async function trainRun(name: string, options: object, world: number): Promise<Map<string, Float64Array>> {
  const out = path.join(dir, `${name}-${world}`);
  const env = { SPINN_TRAIN_WORKER: JSON.stringify({ ...options, out }) };
  if (world === 1) {
    const r = await runNode(worker, [], env).done;
    assert.equal(r.code, 0, r.stderr);
  } else {
    const port = String(await freePort());
    const ranks = Array.from(
      { length: world },
      (_, rank) =>
        runNode(worker, [], { ...env, MASTER_PORT: port, RANK: String(rank), WORLD_SIZE: String(world) })
          .done,
    );
    for (const r of await Promise.all(ranks)) assert.equal(r.code, 0, r.stderr);
  }
  const loaded = loadSafetensors(path.join(out, "last", "model.safetensors"));
  return new Map([...loaded.tensors].map(([k, t]) => [k, t.toFloat64Array()]));
}

function assertClose(a: Map<string, Float64Array>, b: Map<string, Float64Array>, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  assert.ok(worst <= 1e-9, `${what}: weights differ by up to ${worst}`);
}

const runs: [string, object][] = [
  ["spinn-pi", { task: "nli", model: "spinn-pi" }],
  ["spinn-pi-nt", { task: "listops", model: "spinn-pi-nt" }],
  // The sub-list loss is normalised by the global batch's sub-lists; the curriculum picks the
  // global batches before they are split.
  ["spinn-pi-nt-subtrees", { task: "listops", model: "spinn-pi-nt", subtreeWeight: 0.5 }],
  ["spinn-pi-nt-curriculum", { task: "listops", model: "spinn-pi-nt", curriculum: [8] }],
  ["spinn", { task: "nli", model: "spinn" }],
  ["rl-spinn", { task: "listops", model: "rl-spinn" }],
  ["rl-spinn-whiten", { task: "nli", model: "rl-spinn", baseline: "whiten", entropyWeight: 0.1 }],
  ["rl-spinn-moving", { task: "listops", model: "rl-spinn", baseline: "moving-average" }],
  ["rl-spinn-learned", { task: "nli", model: "rl-spinn", baseline: "learned" }],
  [
    "rl-spinn-policy-lr",
    {
      task: "listops",
      model: "rl-spinn",
      policyLr: 0.05,
      entropyWeight: 0.1,
      entropyDecay: "exponential",
      entropyDecaySteps: 3,
    },
  ],
  ["lstm", { task: "listops", model: "lstm" }],
  ["bilstm", { task: "nli", model: "bilstm" }],
  ["cbow", { task: "nli", model: "cbow" }],
  // A token budget of 60: a pair costs 2 × 7 = 14 (4-word sentences) or 2 × 11 = 22 (a 6-word
  // premise), so global batches of 4 and 2 pairs instead of 7; the budget cuts the global
  // batches before they are split (the 2-pair ones 1 + 1).
  ["spinn-pi-budget", { task: "nli", model: "spinn-pi", batchTokens: 60 }],
  // A budget of 40: batches of 2 pairs, or 1 of a 6-word premise: a global batch of one row,
  // whose batch norm alone must agree with the group's (and keep a finite running variance).
  ["spinn-pi-budget-ones", { task: "nli", model: "spinn-pi", batchTokens: 40 }],
  // The merge parser: its merges drawn for the global batch, its pass on each rank's sentences.
  ["rl-spinn-merge", { task: "listops", model: "rl-spinn", parser: "merge" }],
  ["rl-spinn-merge-nli", { task: "nli", model: "rl-spinn", parser: "merge", parserHidden: 3 }],
];

describe("3 workers with batches of 2 (a worker with nothing to train in each step)", { skip }, () => {
  for (const [name, kind] of [0, 2, 4, 5, 6, 7, 8, 9, runs.length - 1].map((i) => runs[i]!)) {
    test(name, async () => {
      const data = (kind as { task: string }).task === "nli" ? nli : listops;
      const options = { ...sizes, ...kind, train: data, dev: data, epochs: 1, maxSteps: 4, batchSize: 2 };
      const common = { ...options, optimizer: "sgd", lr: 0.3, dtype: "float64", seed: 5 };
      assertClose(await trainRun(`${name}-b2`, common, 1), await trainRun(`${name}-b2`, common, 3), name);
    });
  }
});

describe("2 workers give the weights of 1 process (float64, 1e-9)", { skip }, () => {
  for (const [name, kind] of runs) {
    test(name, async () => {
      const data = (kind as { task: string }).task === "nli" ? nli : listops;
      const options = {
        ...sizes,
        ...kind,
        train: data,
        dev: data,
        epochs: 2,
        batchSize: 7,
        optimizer: "sgd",
        lr: 0.3,
        dtype: "float64",
        seed: 5,
      };
      const alone = await trainRun(name, options, 1);
      const two = await trainRun(name, options, 2);
      assertClose(alone, two, name);
    });
  }
});
