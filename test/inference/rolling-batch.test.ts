// The rolling batch (continuous batching) against the library's batch path: examples that join
// at different steps, in a memory that has to grow, get the answers `predict` gives them (float64:
// equal within 1e-12; the shipped float32 model: the same labels and trees, probabilities to
// 1e-5), for given trees, greedy trees, pairs and single sentences; its errors; no native leak.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { Rng } from "../../src/data/rng.js";
import { REDUCE, SHIFT } from "../../src/data/transitions.js";
import { Vocabulary } from "../../src/data/vocabulary.js";
import { manualSeed, memory } from "../../src/engine/index.js";
import { predict } from "../../src/inference/evaluate.js";
import { classify, inputExamples, predictListOps, presentAnswer } from "../../src/inference/raw-input.js";
import { RollingBatch, type RollingResult, rollingUnsupported } from "../../src/inference/rolling-batch.js";
import type { EncoderKind, Task } from "../../src/models/kinds.js";
import { defaultConfig, Model } from "../../src/models/model.js";
import { loadModelDir } from "../../src/models/model-dir.js";
import { pretrainedDir } from "../../src/models/pretrained.js";
import { type Example, sidesOf, type TaskData } from "../../src/tasks/task.js";

const WORDS = Array.from({ length: 18 }, (_, i) => `w${i}`);
const vocab = Vocabulary.build([WORDS]);

/** A random binary tree over n tokens, as transitions: any valid SHIFT/REDUCE sequence. */
function randomTree(n: number, rng: Rng): Uint8Array {
  const out: number[] = [];
  let shifted = 0;
  let depth = 0;
  while (out.length < 2 * n - 1) {
    const canShift = shifted < n;
    const canReduce = depth >= 2;
    if (canShift && (!canReduce || rng.next() < 0.5)) {
      out.push(SHIFT);
      shifted++;
      depth++;
    } else {
      out.push(REDUCE);
      depth--;
    }
  }
  return Uint8Array.from(out);
}

const LENGTHS = [1, 2, 9, 1, 3, 40, 5, 17, 1, 64, 4, 12, 2, 7];

function sentence(n: number, rng: Rng) {
  return {
    tokens: Array.from({ length: n }, () => WORDS[Math.floor(rng.next() * WORDS.length)]!),
    transitions: randomTree(n, rng),
  };
}

function data(task: Task, seed: number): TaskData {
  const rng = new Rng(seed);
  const examples: Example[] = LENGTHS.map((n, i) => {
    const source = { file: "<test>", line: i + 1 };
    if (task === "listops") return { id: String(i), label: 0, sentence: sentence(n, rng), source };
    const m = LENGTHS[(i + 5) % LENGTHS.length]!;
    return { id: String(i), label: 0, premise: sentence(n, rng), hypothesis: sentence(m, rng), source };
  });
  return { task, file: "<test>", examples, skipped: { noGoldLabel: 0, invalid: 0 } };
}

function model(task: Task, encoder: EncoderKind, separateParser = false, composerTracker = 0): Model {
  manualSeed(7);
  const config = {
    ...defaultConfig(task, encoder, vocab.size),
    dEmbed: 8,
    dHidden: 6,
    dTracker: 3,
    dMlp: 10,
    ...(separateParser ? { parser: { dEmbed: 8, dHidden: 5, dTracker: 4 } } : {}),
    ...(composerTracker > 0 ? { composerTracker } : {}),
  };
  return new Model(config, { dtype: "float64" });
}

/**
 * The examples through a rolling batch: `perStep` join before each step (so they join batches
 * already under way), in a memory of `initialRows` rows (small: it grows while sentences are in it).
 */
function rolled(m: Model, v: Vocabulary, examples: Example[], perStep: number, initialRows: number) {
  const batch = new RollingBatch(m, v, initialRows);
  const results: RollingResult[] = new Array(examples.length);
  let next = 0;
  let steps = 0;
  while (next < examples.length || batch.size > 0) {
    for (let k = 0; k < perStep && next < examples.length; k++, next++) {
      const i = next;
      batch.add(
        sidesOf(examples[i]!).map(([, s]) => s),
        (r) => {
          assert.equal(results[i], undefined, `example ${i} answered twice`);
          results[i] = r;
        },
      );
    }
    batch.step();
    steps++;
    assert.ok(steps < 10_000, "the rolling batch does not finish");
  }
  batch.dispose();
  return { results, meanBatch: batch.exampleSteps / batch.steps };
}

describe("rolling batch", () => {
  const cases: [Task, EncoderKind, string, boolean?, number?][] = [
    ["nli", "spinn-pi", "given trees, pairs"],
    ["listops", "spinn-pi-nt", "given trees by level, single sentences"],
    ["nli", "spinn-pi-nt", "given trees by level, pairs"],
    ["listops", "spinn-pi", "given trees, single sentences"],
    ["nli", "spinn", "full SPINN's greedy trees, pairs"],
    ["listops", "rl-spinn", "RL-SPINN's greedy trees, single sentences"],
    ["listops", "rl-spinn", "a separate parser's greedy trees, single sentences", true],
    ["nli", "spinn", "a separate parser's greedy trees, pairs", true],
    ["listops", "rl-spinn", "a separate parser's greedy trees, a composer with its own tracker", true, 2],
  ];
  for (const [task, encoder, what, separate, composerTracker] of cases) {
    test(`${encoder} (${what}): the answers of the batch path, within 1e-12 in float64`, () => {
      const m = model(task, encoder, separate, composerTracker);
      const d = data(task, 11);
      const want = predict(m, d, vocab);
      const before = memory().tensors;
      for (const [perStep, rows] of [
        [1, 8],
        [3, 64],
        [100, 4096],
      ] as const) {
        const { results, meanBatch } = rolled(m, vocab, d.examples, perStep, rows);
        results.forEach((r, i) => {
          assert.deepEqual(r.trees, want.trees[i], `example ${i}: trees`);
          const p = want.probabilities.subarray(i * want.classes, (i + 1) * want.classes);
          r.probabilities.forEach((x, c) =>
            assert.ok(Math.abs(x - p[c]!) <= 1e-12, `example ${i} class ${c}: ${x} vs ${p[c]}`),
          );
        });
        if (perStep === 1) assert.ok(meanBatch > 1, `examples joining one a step overlap (${meanBatch})`);
      }
      assert.equal(memory().tensors, before, "live tensors after the rolling batches are disposed");
      m.dispose();
    });
  }

  /** The first 60 items of a shipped model's sample, as raw input for its call. */
  const sampleOf = (name: string): { call: "classify" | "predictListOps"; items: unknown[] } => {
    const dir = pretrainedDir(name);
    if (name.startsWith("snli")) {
      const rows = readFileSync(path.join(dir, "sample.jsonl"), "utf8").trim().split("\n").slice(0, 60);
      const items = rows.map((l) => {
        const r = JSON.parse(l) as { sentence1: string; sentence2: string };
        return { premise: r.sentence1, hypothesis: r.sentence2 };
      });
      return { call: "classify", items };
    }
    const lines = readFileSync(path.join(dir, "sample.tsv"), "utf8").trim().split("\n").slice(0, 60);
    return { call: "predictListOps", items: lines.map((l) => l.split("\t")[1]!) };
  };

  for (const name of ["snli-spinn", "listops-rl", "listops-pi"]) {
    test(`the shipped ${name}: the library's labels and trees, probabilities to 1e-5`, () => {
      const loaded = loadModelDir(pretrainedDir(name));
      const { call, items } = sampleOf(name);
      const want =
        call === "classify"
          ? classify(loaded, items as { premise: string; hypothesis: string }[])
          : predictListOps(loaded, items as string[]);
      const examples = inputExamples(loaded, call, items);
      const { results } = rolled(loaded.model, loaded.vocab, examples, 2, 32);
      results.forEach((r, i) => {
        const got = presentAnswer(loaded, examples[i]!, r.probabilities, r.trees);
        assert.equal(got.label, want[i]!.label, `item ${i}`);
        assert.deepEqual(got.trees, want[i]!.trees);
        for (const [label, p] of Object.entries(want[i]!.probabilities))
          assert.ok(Math.abs((got.probabilities as Record<string, number>)[label]! - p) <= 1e-5);
      });
      loaded.model.dispose();
    });
  }

  test("models without transition steps are refused, with the reason; every SPINN is taken", () => {
    for (const encoder of ["lstm", "bilstm", "cbow"] as const) {
      const m = model("listops", encoder);
      assert.equal(rollingUnsupported(m), `a ${encoder} encoder has no transition steps`);
      assert.throws(() => new RollingBatch(m, vocab), /^Error: this model cannot run in a rolling batch: /);
      m.dispose();
    }
    for (const encoder of ["spinn-pi-nt", "spinn-pi", "spinn", "rl-spinn"] as const) {
      for (const separate of encoder === "spinn" || encoder === "rl-spinn" ? [false, true] : [false]) {
        const m = model("listops", encoder, separate);
        assert.equal(rollingUnsupported(m), null);
        m.dispose();
      }
    }
  });

  test("add() refuses an example of the wrong shape, or without the trees its model needs", () => {
    const m = model("nli", "spinn-pi");
    const batch = new RollingBatch(m, vocab);
    const s = { tokens: ["w1", "w2"], transitions: Uint8Array.from([SHIFT, SHIFT, REDUCE]) };
    assert.throws(
      () => batch.add([s], () => {}),
      /^RangeError: an example of this model has 2 sentence\(s\), got 1$/,
    );
    assert.throws(
      () => batch.add([s, { tokens: ["w1"], transitions: null }], () => {}),
      /^Error: this model composes along given trees: give the parse$/,
    );
    assert.throws(
      () => batch.add([s, { tokens: [], transitions: new Uint8Array(0) }], () => {}),
      /^RangeError: every sentence needs at least one token$/,
    );
    assert.equal(batch.size, 0);
    batch.dispose();
    m.dispose();
  });
});
