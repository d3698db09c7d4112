// Composing by tree level (issue 16) against the step path: without a tracker and on given
// trees, a pass composes every node of one level of the whole batch at once; the encodings, kept
// sub-list states, class probabilities and (in training) every gradient must equal the step
// path's within float rounding, on random trees of mixed lengths (one-token sentences, one very
// long sentence) and fixed shapes, for ListOps and NLI, and the shipped listops-pi's predictions
// must not change.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import type { NliBatch } from "../../src/data/batching.js";
import { branchingTransitions, REDUCE, randomTransitions, SKIP } from "../../src/data/transitions.js";
import { manualSeed, noGrad, scope, type Tensor } from "../../src/engine/index.js";
import { predictListOps } from "../../src/inference/raw-input.js";
import { levelSchedule } from "../../src/models/level-order.js";
import { defaultConfig, Model } from "../../src/models/model.js";
import { loadModelDir } from "../../src/models/model-dir.js";
import { pretrainedDir } from "../../src/models/pretrained.js";
import type { SpinnEncoder } from "../../src/models/spinn.js";
import { StackMachine } from "../../src/models/stack-machine.js";
import { batchOf, type Sentence as SentenceOf } from "./sentence-batches.js";

type Sentence = SentenceOf<Uint8Array>;

function lcg(seed: number): { next(): number } {
  let state = seed;
  return {
    next: () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    },
  };
}

type Shape = "random" | "left" | "right" | "balanced";

function sentence(n: number, seed: number, shape: Shape): Sentence {
  const rng = lcg(seed);
  const transitions = shape === "random" ? randomTransitions(n, rng) : branchingTransitions(n, shape);
  return { ids: Array.from({ length: n }, () => 2 + Math.floor(rng.next() * 18)), transitions };
}

/** Mixed lengths: one-token sentences, short ones, and one very long sentence. */
const LENGTHS = [1, 2, 9, 1, 3, 40, 300, 5, 17, 1, 64];

function sentences(shape: Shape, seed: number): Sentence[] {
  return LENGTHS.map((n, i) => sentence(n, seed + 31 * i, shape));
}

function model(
  task: "listops" | "nli",
  encoder: "spinn-pi-nt" | "spinn-pi",
  dtype: "float32" | "float64",
): Model {
  manualSeed(5);
  const config = {
    ...defaultConfig(task, encoder, 20),
    dEmbed: 8,
    dHidden: 6,
    dTracker: 3,
    dMlp: 10,
    nMlp: 1,
  };
  return new Model(config, { dtype });
}

/** `run` on both paths: level order (the default), then the step path. */
function onBothPaths<T>(m: Model, run: () => T): [T, T] {
  const encoder = m.encoder as SpinnEncoder;
  const byLevel = run();
  encoder.byLevel = false;
  try {
    return [byLevel, run()];
  } finally {
    encoder.byLevel = true;
  }
}

/** The same evaluation on both paths, in the model's own precision. */
function bothPaths(m: Model, f: () => Tensor): [Float64Array, Float64Array] {
  return onBothPaths(m, () => noGrad(() => scope(() => f().toFloat64Array())));
}

/** Every trainable parameter's gradient of `loss`, on both paths. */
function gradientsOnBothPaths(m: Model, loss: () => Tensor): [Float64Array, Float64Array] {
  const params = m.store.trainable().map(([, p]) => p);
  return onBothPaths(m, () =>
    scope(() => {
      for (const p of params) p.zeroGrad();
      loss().backward();
      return Float64Array.from(params.flatMap((p) => Array.from(p.grad?.toFloat64Array() ?? [])));
    }),
  );
}

/**
 * Largest |a − b| / (1e-5·|b| + 1e-6) over the elements: at most 1 when every element is within
 * 1e-5 relative (numpy's allclose with rtol 1e-5; the absolute 1e-6 for values near zero).
 */
function maxRelative(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let k = 0; k < a.length; k++)
    worst = Math.max(worst, Math.abs(a[k]! - b[k]!) / (1e-5 * Math.abs(b[k]!) + 1e-6));
  return worst;
}

function bitwiseEqual(a: Float64Array, b: Float64Array): boolean {
  return a.every((x, k) => Object.is(x, b[k]));
}

/** The REDUCEs at steps that are multiples of k, as an encoder pass's `keep` (sentence, step). */
function everyKthReduce(all: Sentence[], k: number): { sentence: Int32Array; step: Int32Array } {
  const sentence: number[] = [];
  const step: number[] = [];
  all.forEach((s, i) => {
    s.transitions.forEach((t, at) => {
      if (t !== REDUCE || at % k !== 0) return;
      sentence.push(i);
      step.push(at);
    });
  });
  return { sentence: Int32Array.from(sentence), step: Int32Array.from(step) };
}

/** Each node's height from its transitions, counted independently of the machine. */
function heights(transitions: Uint8Array): number[] {
  const stack: number[] = [];
  const out: number[] = [];
  for (const t of transitions) {
    if (t === REDUCE) {
      const r = stack.pop()!;
      const l = stack.pop()!;
      out.push(1 + Math.max(l, r));
      stack.push(out[out.length - 1]!);
    } else if (t !== SKIP) stack.push(0);
  }
  return out;
}

describe("level schedule", () => {
  test("groups every composition of the batch by its height, each once", () => {
    const all = sentences("random", 3);
    const batch = batchOf(all);
    const levels = levelSchedule(new StackMachine(batch.lengths), batch.transitions!, batch.steps);
    const expected = all.flatMap((s) => heights(s.transitions));
    assert.equal(levels.length, Math.max(...expected));
    levels.forEach((level, l) => {
      assert.equal(level.out.length, expected.filter((h) => h === l + 1).length, `level ${l + 1}`);
    });
    const outs = levels.flatMap((l) => [...l.out]);
    assert.equal(new Set(outs).size, outs.length);
    assert.equal(
      outs.length,
      LENGTHS.reduce((a, n) => a + n - 1, 0),
    );
  });

  test("fixed shapes: left and right branching are n − 1 levels, balanced ⌈log2 n⌉", () => {
    for (const [shape, height] of [
      ["left", 299],
      ["right", 299],
      ["balanced", 9],
    ] as const) {
      const batch = batchOf([sentence(300, 1, shape), sentence(1, 2, shape)]);
      const levels = levelSchedule(new StackMachine(batch.lengths), batch.transitions!, batch.steps);
      assert.equal(levels.length, height, shape);
    }
  });

  test("an invalid transition is the machine's error, naming the example and step", () => {
    const batch = batchOf([{ ids: [2, 3], transitions: Uint8Array.from([0, REDUCE, 0]) }]);
    assert.throws(
      () => levelSchedule(new StackMachine(batch.lengths), batch.transitions!, batch.steps),
      /example 0, step 1: REDUCE/,
    );
  });
});

/** Runs f, counting the composition products the encoder runs (one per level or per step). */
function countCompositions(m: Model, f: () => void): number {
  const reduce = (m.encoder as SpinnEncoder).reduce;
  const stepProduct = reduce.stepProduct;
  let calls = 0;
  reduce.stepProduct = (rows: number) => {
    const product = stepProduct.call(reduce, rows);
    const forward = product.forwardGathered.bind(product);
    product.forwardGathered = (...args) => {
      calls++;
      return forward(...args);
    };
    return product;
  };
  try {
    f();
  } finally {
    reduce.stepProduct = stepProduct;
  }
  return calls;
}

describe("which path runs", () => {
  const all = sentences("random", 29);
  const batch = batchOf(all);
  const height = Math.max(...all.flatMap((s) => heights(s.transitions)));
  let reduceSteps = 0;
  for (let s = 0; s < batch.steps; s++) if (all.some((x) => x.transitions[s] === REDUCE)) reduceSteps++;

  test("evaluation and training compose once per level; the step path once per step with a REDUCE", () => {
    const m = model("listops", "spinn-pi-nt", "float32");
    const pass = () => scope(() => m.encoder.run(m.leaves.forward(batch, false), batch));
    assert.equal(
      countCompositions(m, () => noGrad(pass)),
      height,
    );
    assert.equal(countCompositions(m, pass), height);
    (m.encoder as SpinnEncoder).byLevel = false;
    assert.equal(countCompositions(m, pass), reduceSteps);
    assert.ok(height < reduceSteps / 2, `${height} levels, ${reduceSteps} steps`);
    m.dispose();
  });
});

describe("level order against the step path", () => {
  for (const dtype of ["float32", "float64"] as const) {
    for (const shape of ["random", "left", "right", "balanced"] as const) {
      test(`ListOps encodings, ${shape} trees, ${dtype}`, () => {
        const m = model("listops", "spinn-pi-nt", dtype);
        const batch = batchOf(sentences(shape, 7));
        const [a, b] = bothPaths(m, () => m.encoder.run(m.leaves.forward(batch, false), batch).encoding);
        assert.ok(maxRelative(a, b) <= 1, `${maxRelative(a, b)}`);
        if (!bitwiseEqual(a, b)) console.log(`# ${shape} ${dtype}: not bitwise equal, ${maxRelative(a, b)}`);
        m.dispose();
      });
    }
  }

  test("float64 on random trees: equal to the last bits (within 1e-12 relative)", () => {
    // Not bitwise: the products and the cells' vectorised activations run on more rows at once,
    // and both may round a row's last bit differently with the row count.
    const m = model("listops", "spinn-pi-nt", "float64");
    const batch = batchOf(sentences("random", 11));
    const [a, b] = bothPaths(m, () => m.encoder.run(m.leaves.forward(batch, false), batch).encoding);
    assert.ok(maxRelative(a, b) <= 1e-7, `${maxRelative(a, b)}`);
    m.dispose();
  });

  test("kept sub-list states (the --subtree-weight readout) equal the step path's", () => {
    const m = model("listops", "spinn-pi-nt", "float32");
    const all = sentences("random", 13);
    const batch = batchOf(all);
    const keep = everyKthReduce(all, 3);
    assert.ok(keep.step.length > 10);
    const [a, b] = bothPaths(
      m,
      () => m.encoder.run(m.leaves.forward(batch, false), batch, "given", undefined, keep).kept!,
    );
    assert.ok(maxRelative(a, b) <= 1, `${maxRelative(a, b)}`);
    m.dispose();
  });

  test("NLI pairs: class probabilities equal the step path's", () => {
    const m = model("nli", "spinn-pi-nt", "float32");
    const premises = sentences("random", 17);
    const hypotheses = [...sentences("balanced", 19)].reverse();
    const batch: NliBatch = {
      indices: premises.map((_, i) => i),
      labels: new Int32Array(premises.length),
      premise: batchOf(premises),
      hypothesis: batchOf(hypotheses),
    };
    const [a, b] = bothPaths(m, () => m.run(batch, false).logits.softmax(1));
    assert.ok(maxRelative(a, b) <= 1, `${maxRelative(a, b)}`);
    m.dispose();
  });

  // Training by level: the same compositions, so the same loss and gradients; only the order in
  // which the pass-wide weight gradient sums its rows differs (float64: within 1e-12 relative).
  const weightedSum = (t: Tensor) => t.mul(t.detach().add(0.5)).sum();
  test("training: every parameter's gradient equals the step path's (ListOps encodings, kept sub-lists)", () => {
    const m = model("listops", "spinn-pi-nt", "float64");
    const all = sentences("random", 37);
    const batch = batchOf(all);
    const keep = everyKthReduce(all, 5);
    const [a, b] = gradientsOnBothPaths(m, () => {
      const pass = m.encoder.run(m.leaves.forward(batch, false), batch, "given", undefined, keep);
      return weightedSum(pass.encoding).add(weightedSum(pass.kept!));
    });
    assert.ok(a.some((g) => g !== 0));
    assert.ok(maxRelative(a, b) <= 1e-7, `${maxRelative(a, b)}`);
    m.dispose();
  });

  test("training: NLI pairs' loss gradients equal the step path's, in float32 too", () => {
    for (const dtype of ["float64", "float32"] as const) {
      const m = model("nli", "spinn-pi-nt", dtype);
      const premises = sentences("random", 41);
      const batch: NliBatch = {
        indices: premises.map((_, i) => i),
        labels: Int32Array.from(premises, (_, i) => i % 3),
        premise: batchOf(premises),
        hypothesis: batchOf([...sentences("left", 43)].reverse()),
      };
      const [a, b] = gradientsOnBothPaths(m, () => weightedSum(m.run(batch, false).logits.logSoftmax(1)));
      assert.ok(maxRelative(a, b) <= (dtype === "float64" ? 1e-7 : 1), `${dtype}: ${maxRelative(a, b)}`);
      m.dispose();
    }
  });

  test("with a tracker (SPINN-PI) the step path runs whatever byLevel says: bitwise the same", () => {
    const m = model("listops", "spinn-pi", "float32");
    const batch = batchOf(sentences("random", 23));
    const [a, b] = bothPaths(m, () => m.encoder.run(m.leaves.forward(batch, false), batch).encoding);
    assert.ok(bitwiseEqual(a, b));
    m.dispose();
  });

  test("the shipped listops-pi's predictions on its sample are unchanged", () => {
    const dir = pretrainedDir("listops-pi");
    const lines = readFileSync(path.join(dir, "sample.tsv"), "utf8").trim().split("\n");
    const expressions = lines.map((l) => l.split("\t")[1]!);
    const loaded = loadModelDir(dir);
    const encoder = loaded.model.encoder as SpinnEncoder;
    const byLevel = predictListOps(loaded, expressions, { batchSize: 64 });
    encoder.byLevel = false;
    const bySteps = predictListOps(loaded, expressions, { batchSize: 64 });
    encoder.byLevel = true;
    assert.deepEqual(
      byLevel.map((p) => p.label),
      bySteps.map((p) => p.label),
    );
    assert.deepEqual(
      byLevel.map((p) => p.trees),
      bySteps.map((p) => p.trees),
    );
    let worst = 0;
    byLevel.forEach((p, i) => {
      for (const [label, q] of Object.entries(p.probabilities))
        worst = Math.max(worst, Math.abs(q - bySteps[i]!.probabilities[label]!));
    });
    assert.ok(worst < 1e-5, `${worst}`);
    loaded.model.dispose();
  });
});
