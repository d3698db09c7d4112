// RL-SPINN: transitions sampled from the tracker's policy. Sampling never yields an invalid tree;
// the sampled trees follow the policy's probabilities; and the REINFORCE estimate of the
// gradient of the expected reward matches the exact gradient, computed by enumerating every tree
// of a 4-word sentence (5 of them), within its Monte Carlo standard error.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SentenceBatch } from "../../src/data/batching.js";
import { Rng } from "../../src/data/rng.js";
import { REDUCE, SHIFT } from "../../src/data/transitions.js";
import { manualSeed, noGrad, scope, type Tensor, zerosLike } from "../../src/engine/index.js";
import type { Model } from "../../src/models/model.js";
import { type SpinnEncoder, sampleAction } from "../../src/models/spinn.js";
import { StackMachine } from "../../src/models/stack-machine.js";
import { Advantages, policyLoss } from "../../src/training/reinforce.js";
import { assertMatchesExactGradient, exactGradient, gradients, zeroGrads } from "./policy-gradient-check.js";
import { alongTrees, copiesOf } from "./sentence-batches.js";
import { tinyRlSpinn } from "./tiny-rl-spinn.js";

/** Every transition sequence of a binary tree over n words. */
function allTrees(n: number): number[][] {
  const out: number[][] = [];
  const grow = (seq: number[], depth: number, shifted: number) => {
    if (seq.length === 2 * n - 1) return void out.push(seq);
    if (shifted < n) grow([...seq, SHIFT], depth + 1, shifted + 1);
    if (depth >= 2) grow([...seq, REDUCE], depth - 1, shifted);
  };
  grow([], 0, 0);
  return out;
}

const rlSpinn = (): Model => tinyRlSpinn(33);

describe("RL-SPINN", () => {
  test("sampled actions are always valid and build one binary tree over all words", () => {
    const rng = new Rng(8);
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + rng.int(12);
      const machine = new StackMachine(Int32Array.from([n]));
      const actions = new Uint8Array(1);
      for (let s = 0; s < 2 * n - 1; s++) {
        const [a, b] = [rng.normal() * 3, rng.normal() * 3];
        actions[0] = sampleAction(a, b, machine.canShift(0), machine.canReduce(0), rng.next());
        machine.apply(actions, s); // throws on an invalid action
      }
      assert.ok(machine.isDone(0), `length ${n}, trial ${trial}`);
    }
    // P(REDUCE) = sigmoid(reduce − shift) = sigmoid(1) ≈ 0.731
    assert.equal(sampleAction(0, 1, true, true, 0.73), REDUCE);
    assert.equal(sampleAction(0, 1, true, true, 0.74), SHIFT);
    assert.equal(sampleAction(0, 100, true, false, 0), SHIFT);
    assert.equal(sampleAction(100, 0, false, true, 0.99), REDUCE);
  });

  for (const parser of [false, true]) {
    test(`the REINFORCE estimate matches the exact gradient of the expected reward (4 words, 5 trees${parser ? ", a separate parser" : ""})`, () => {
      const model = tinyRlSpinn(33, { parser });
      const ids = [2, 5, 7, 3];
      const trees = allTrees(ids.length);
      assert.equal(trees.length, 5);
      const reward = [1.0, -2.0, 0.5, 3.0, -1.0];
      const key = (t: ArrayLike<number>) => Array.from(t).join("");
      const index = new Map(trees.map((t, k) => [key(t), k]));

      // Whatever decides the transitions: the encoder's tracker, or the separate parser.
      const run = (batch: SentenceBatch, source: "given" | "sample") =>
        model.policyPass(batch, false, source);

      // Exact: p(t) and ∇log p(t) for each tree, by following it.
      const p: number[] = [];
      const gradLogP: Float64Array[] = [];
      for (const t of trees) {
        scope(() => {
          zeroGrads(model);
          const pass = run(alongTrees(ids, [t]), "given");
          pass.policy!.logProb.sum().backward();
          p.push(Math.exp(pass.policy!.logProb.item()));
          gradLogP.push(gradients(model));
        });
      }
      const total = p.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total - 1) < 1e-12, `the valid trees' probabilities sum to ${total}`);
      const outcomes = { p, reward, gradLogP };
      const { expected, exact } = exactGradient(outcomes);
      const dim = exact.length;
      // The same gradient straight from autograd: ∇ Σ p(t) r(t).
      scope(() => {
        zeroGrads(model);
        const pass = run(alongTrees(ids, trees), "given");
        let j: Tensor | null = null;
        trees.forEach((_, k) => {
          const term = pass.policy!.logProb.narrow(0, k, 1).exp().mul(reward[k]!);
          j = j ? j.add(term) : term;
        });
        (j as unknown as Tensor).sum().backward();
        const direct = gradients(model);
        for (let q = 0; q < dim; q++) assert.ok(Math.abs(direct[q]! - exact[q]!) < 1e-10);
      });
      assert.ok(
        exact.some((g) => Math.abs(g) > 1e-3),
        "the policy's gradient is not trivially zero",
      );

      // Estimate: M sampled trees, advantages against the exact expected reward (a constant
      // baseline: unbiased), through policyLoss (whose gradient is −estimate).
      const M = 20000;
      manualSeed(5);
      const counts = new Array<number>(trees.length).fill(0);
      let estimate = new Float64Array(dim);
      scope(() => {
        zeroGrads(model);
        const pass = run(copiesOf(ids, M), "sample");
        const adv = new Float32Array(M);
        for (let i = 0; i < M; i++) {
          const k = index.get(
            key(pass.trees!.transitions.subarray(i * pass.trees!.steps, (i + 1) * pass.trees!.steps)),
          );
          assert.ok(k !== undefined, "a sampled tree is one of the valid trees");
          counts[k]!++;
          adv[i] = reward[k]! - expected;
        }
        policyLoss(pass.policy!.logProb, pass.policy!.entropy, adv, 0).backward();
        estimate = gradients(model).map((g) => -g);
      });
      // Sampled trees follow the policy, and the estimate the exact gradient.
      assertMatchesExactGradient(outcomes, counts, estimate);
      model.dispose();
    });
  }

  test("entropy: log 2 per real choice for a uniform policy, none for forced steps", () => {
    const model = rlSpinn();
    const encoder = model.encoder as SpinnEncoder;
    // Zero transition weights and bias: P(SHIFT) = P(REDUCE) = 1/2 wherever both are valid.
    noGrad(() => {
      encoder.tracker!.transition!.weight.copy_(zerosLike(encoder.tracker!.transition!.weight));
      encoder.tracker!.transition!.bias!.copy_(zerosLike(encoder.tracker!.transition!.bias!));
    });
    scope(() => {
      const trees = allTrees(4);
      const batch = alongTrees([2, 5, 7, 3], trees);
      const pass = encoder.run(model.leaves.forward(batch, false), batch, "given");
      // Real choices along each tree: the steps where the stack has ≥ 2 items and words remain.
      const choices = trees.map((t) => {
        let depth = 0;
        let shifted = 0;
        let c = 0;
        for (const a of t) {
          if (depth >= 2 && shifted < 4) c++;
          if (a === SHIFT) {
            depth++;
            shifted++;
          } else depth--;
        }
        return c;
      });
      const ent = pass.policy!.entropy.toFloat64Array();
      const logp = pass.policy!.logProb.toFloat64Array();
      choices.forEach((c, k) => {
        assert.ok(Math.abs(ent[k]! - c * Math.LN2) < 1e-12);
        assert.ok(Math.abs(logp[k]! + c * Math.LN2) < 1e-12);
      });
    });
    model.dispose();
  });
});

describe("REINFORCE baselines", () => {
  const r = Float32Array.from([1, 0, 0, 1]);
  test("none, whitening, self-critical", () => {
    assert.deepEqual([...new Advantages("none", 0.9).of(r)], [1, 0, 0, 1]);
    assert.deepEqual([...new Advantages("whiten", 0.9).of(r)], [1, -1, -1, 1]);
    assert.deepEqual([...new Advantages("whiten", 0.9).of(Float32Array.from([2, 2]))], [0, 0]);
    const greedy = Float32Array.from([1, 1, 0, 0]);
    assert.deepEqual([...new Advantages("self-critical", 0.9).of(r, greedy)], [0, -1, 0, 1]);
    assert.throws(() => new Advantages("self-critical", 0.9).of(r), /greedy/);
  });
  test("the moving average starts at the first batch's mean and decays", () => {
    const a = new Advantages("moving-average", 0.5);
    assert.deepEqual([...a.of(r)], [0.5, -0.5, -0.5, 0.5]);
    assert.equal(a.average, 0.5);
    assert.deepEqual([...a.of(Float32Array.from([1, 1]))], [0.5, 0.5]);
    assert.equal(a.average, 0.75); // 0.5 · 0.5 + 0.5 · 1
    assert.throws(() => new Advantages("moving-average", 1), /decay/);
  });
});
