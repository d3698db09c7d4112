// RL-SPINN's learned, input-dependent baseline (value-baseline.ts): the value head reads the
// greedy parse's encoding, whatever tree was sampled; its gradient is its squared error's (finite
// differences, float64), and the baseline enters the policy gradient only as its value: with it,
// every other parameter's gradient is REINFORCE's with the advantages r − v(x) taken as
// constants, and the policy loss gives the value head no gradient.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SentenceBatch } from "../../src/data/batching.js";
import { noGrad, scope } from "../../src/engine/index.js";
import type { Model } from "../../src/models/model.js";
import type { TaskBatch } from "../../src/tasks/task.js";
import { policyLoss } from "../../src/training/reinforce.js";
import { learnedBaseline } from "../../src/training/value-baseline.js";
import { numericGradient } from "../finite-differences.js";
import { batchOf, FOUR_WORD_TREES } from "../models/sentence-batches.js";
import { tinyRlSpinn } from "../models/tiny-rl-spinn.js";

const rlSpinn = (): Model => tinyRlSpinn(29, { valueHead: true });

/** One 4-word sentence per tree (the second word differs), composed along tree order[i]. */
function batch(order = [0, 1, 2]): TaskBatch {
  const sentences = FOUR_WORD_TREES.map((_, i) => ({
    ids: [2, 5 + i, 7, 3],
    transitions: FOUR_WORD_TREES[order[i]!]!,
  }));
  return {
    indices: [0, 1, 2],
    labels: Int32Array.from([1, 4, 7]),
    sentence: batchOf(sentences),
  } as TaskBatch;
}

const rewards = Float32Array.from([0.25, -1.5, 2]);

describe("the learned baseline", () => {
  test("reads the greedy parse's encoding, not the tree the batch was composed along", () => {
    const model = rlSpinn();
    const b = batch();
    // The same sentences with each other's trees: a sampled tree must not move the baseline.
    const swapped = batch([2, 0, 1]);
    const v = noGrad(() => model.baselineValue(b, false).toFloat64Array());
    const vSwapped = noGrad(() => model.baselineValue(swapped, false).toFloat64Array());
    assert.deepEqual(Array.from(vSwapped), Array.from(v));
    // w · h + b by hand, h the encoding of the greedy parse (an evaluation pass's source).
    const h = noGrad(() => model.encode((b as { sentence: SentenceBatch }).sentence, false).toFloat64Array());
    const w = model.value!.weight.toFloat64Array();
    const bias = model.value!.bias!.toFloat64Array()[0]!;
    const d = w.length;
    v.forEach((x, i) => {
      let expected = bias;
      for (let j = 0; j < d; j++) expected += w[j]! * h[i * d + j]!;
      assert.ok(Math.abs(x - expected) < 1e-9, `example ${i}: ${x} vs ${expected}`);
    });
    model.dispose();
  });

  test("the value head's gradient is its squared error's (finite differences)", () => {
    const model = rlSpinn();
    const b = batch();
    const weight = model.value!.weight;
    const loss = () =>
      scope(() => learnedBaseline(model.baselineValue(b, false), rewards, 3).loss.toFloat64Array()[0]!);
    scope(() => {
      for (const [, p] of model.store.trainable()) p.zeroGrad();
      learnedBaseline(model.baselineValue(b, false), rewards, 3).loss.backward();
    });
    const analytic = weight.grad!.toFloat64Array();
    const numeric = numericGradient(weight, loss);
    for (let j = 0; j < numeric.length; j++)
      assert.ok(Math.abs(numeric[j]! - analytic[j]!) < 1e-7, `weight ${j}: ${analytic[j]} vs ${numeric[j]}`);
    assert.ok(
      analytic.some((g) => Math.abs(g) > 1e-3),
      "the gradient is not trivially zero",
    );
    // The squared error trains the head alone: the encoder's and the policy's parameters get none.
    for (const [name, p] of model.store.trainable())
      if (!name.startsWith("value."))
        assert.ok(!p.grad || p.grad.toFloat64Array().every((g) => g === 0), `${name} has a gradient`);
    model.dispose();
  });

  test("enters the policy gradient only as its value", () => {
    const model = rlSpinn();
    const b = batch();
    const grads = () =>
      model.store.trainable().map(([n, p]) => [n, p.grad?.toFloat64Array() ?? null] as const);
    const zero = () => {
      for (const [, p] of model.store.trainable()) p.zeroGrad();
    };
    // With the learned baseline: policy loss on r − v(x), plus the squared error.
    zero();
    let advantages: Float32Array = new Float32Array(0);
    scope(() => {
      const pass = model.run(b, false, "given");
      const learned = learnedBaseline(model.baselineValue(b, false), rewards, 3);
      advantages = learned.advantages;
      policyLoss(pass.logProb!, pass.entropy!, learned.advantages, 0).add(learned.loss).backward();
    });
    const withBaseline = grads();
    const v = noGrad(() => model.baselineValue(b, false)!.toFloat64Array());
    advantages.forEach((a, i) => assert.ok(Math.abs(a - (rewards[i]! - v[i]!)) < 1e-6));
    // REINFORCE with those advantages as constants, and the squared error alone.
    zero();
    scope(() => {
      const pass = model.run(b, false, "given");
      policyLoss(pass.logProb!, pass.entropy!, advantages, 0).backward();
    });
    const policyOnly = grads();
    zero();
    scope(() => learnedBaseline(model.baselineValue(b, false), rewards, 3).loss.backward());
    const valueOnly = grads();
    withBaseline.forEach(([name, g], k) => {
      const expected = name.startsWith("value.") ? valueOnly[k]![1] : policyOnly[k]![1];
      if (name.startsWith("value."))
        assert.ok(!policyOnly[k]![1] || policyOnly[k]![1]!.every((x) => x === 0));
      assert.deepEqual(g && Array.from(g), expected && Array.from(expected), name);
    });
    assert.ok(
      policyOnly.some(([n, g]) => n.includes("tracker.transition") && g?.some((x) => Math.abs(x) > 1e-6)),
      "the policy gets a gradient",
    );
    model.dispose();
  });
});
