// RL-SPINN's policy learning at its own pace (policy-update.ts): the transition policy's own
// parameter group and learning rate, saved and restored with the optimizer's state, and the
// entropy bonus's schedule, whose gradient is the entropy's (checked against finite differences).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Adam, manualSeed, noGrad, SGD, scope, type Tensor } from "../../src/engine/index.js";
import type { Model } from "../../src/models/model.js";
import type { SpinnEncoder } from "../../src/models/spinn.js";
import type { TaskBatch } from "../../src/tasks/task.js";
import { Objective, type ObjectiveOptions } from "../../src/training/objective.js";
import {
  entropyWeightAt,
  GroupedOptimizer,
  groupedOptimizer,
  isPolicyParameter,
} from "../../src/training/policy-update.js";
import { policyLoss } from "../../src/training/reinforce.js";
import { numericGradient } from "../finite-differences.js";
import { alongTrees, FOUR_WORD_TREES } from "../models/sentence-batches.js";
import { tinyRlSpinn } from "../models/tiny-rl-spinn.js";

const rlSpinn = (): Model => tinyRlSpinn(21);

describe("the transition policy's own learning rate (--policy-lr)", () => {
  test("the policy parameters are the tracker's SHIFT/REDUCE classifier's, and only those", () => {
    const model = rlSpinn();
    const names = model.store.trainable().map(([n]) => n);
    const policy = names.filter(isPolicyParameter);
    assert.deepEqual(policy.sort(), ["encoder.tracker.transition.bias", "encoder.tracker.transition.weight"]);
    model.dispose();
  });

  test("unset: one plain optimizer, as before", () => {
    const model = rlSpinn();
    const opt = groupedOptimizer(model.store.trainable(), { lr: 0.1 }, (p, lr) => new SGD(p, { lr }));
    assert.ok(opt instanceof SGD);
    model.dispose();
  });

  test("SGD steps: the policy parameters move by policy-lr × gradient, the rest by lr × gradient, both decayed alike", () => {
    const model = rlSpinn();
    const params = model.store.trainable();
    const opt = groupedOptimizer(params, { lr: 0.1, policyLr: 0.025 }, (p, lr) => new SGD(p, { lr }));
    assert.ok(opt instanceof GroupedOptimizer);
    assert.equal(opt.params.length, params.length);
    // A run's schedule sets the shared rate (trainer: lr × decay^epoch): both groups follow.
    opt.lr = 0.05;
    const before = params.map(([, p]) => p.toFloat64Array());
    scope(() => {
      opt.zeroGrad();
      for (const [, p] of params) p.mul(p).sum().backward(); // gradient 2p
    });
    opt.step();
    params.forEach(([name, p], k) => {
      const lr = isPolicyParameter(name) ? 0.0125 : 0.05;
      const after = p.toFloat64Array();
      before[k]!.forEach((x, i) => assert.ok(Math.abs(after[i]! - (x - lr * 2 * x)) < 1e-12, name));
    });
    model.dispose();
  });

  test("Adam state: saved as one optimizer's names, restored exactly into a fresh grouped optimizer", () => {
    const make = (model: Model) =>
      groupedOptimizer(model.store.trainable(), { lr: 0.01, policyLr: 0.1 }, (p, lr) => new Adam(p, { lr }));
    const a = rlSpinn();
    const b = rlSpinn();
    const oa = make(a);
    const ob = make(b);
    const stepOn = (model: Model, opt: ReturnType<typeof make>) =>
      scope(() => {
        opt.zeroGrad();
        for (const [, p] of model.store.trainable()) p.mul(p).mul(p).sum().backward();
        opt.step();
      });
    stepOn(a, oa);
    stepOn(a, oa);
    const state = oa.state();
    assert.equal(state.tensors.size, 2 * a.store.trainable().length);
    assert.ok(state.tensors.has("exp_avg.encoder.tracker.transition.weight"));
    noGrad(() => {
      for (const [[, pa], [, pb]] of a.store.trainable().map((x, i) => [x, b.store.trainable()[i]!] as const))
        pb.copy_(pa as Tensor);
    });
    ob.loadState(state);
    assert.equal(ob.stepCount, 2);
    stepOn(a, oa);
    stepOn(b, ob);
    a.store.trainable().forEach(([name, p], k) => {
      assert.deepEqual(p.toFloat64Array(), b.store.trainable()[k]![1].toFloat64Array(), name);
    });
    oa.dispose();
    ob.dispose();
    a.dispose();
    b.dispose();
  });
});

describe("the entropy bonus's schedule (--entropy-decay)", () => {
  test("constant, linear to 0, exponential", () => {
    const o = { entropyWeight: 0.2, entropyDecaySteps: 100 };
    assert.equal(entropyWeightAt({ ...o, entropyDecay: "constant" }, 500), 0.2);
    assert.equal(entropyWeightAt({ ...o, entropyDecay: "linear" }, 0), 0.2);
    assert.ok(Math.abs(entropyWeightAt({ ...o, entropyDecay: "linear" }, 25) - 0.15) < 1e-15);
    assert.equal(entropyWeightAt({ ...o, entropyDecay: "linear" }, 100), 0);
    assert.equal(entropyWeightAt({ ...o, entropyDecay: "linear" }, 300), 0);
    assert.ok(Math.abs(entropyWeightAt({ ...o, entropyDecay: "exponential" }, 100) - 0.2 / Math.E) < 1e-15);
    // Saved runs from before the option: constant.
    assert.equal(entropyWeightAt({ entropyWeight: 0.2 }, 500), 0.2);
  });

  test("the entropy term's gradient is the policy entropy's (finite differences, float64)", () => {
    const model = rlSpinn();
    const encoder = model.encoder as SpinnEncoder;
    const batch = alongTrees([2, 5, 7, 3], FOUR_WORD_TREES);
    const weight = encoder.tracker!.transition!.weight;
    const w = 0.7;
    /** The bonus's loss term alone: −w · mean entropy over the trees (zero advantages). */
    const loss = () =>
      scope(() => {
        const pass = encoder.run(model.leaves.forward(batch, false), batch, "given");
        const zero = new Float32Array(FOUR_WORD_TREES.length);
        return policyLoss(pass.policy!.logProb, pass.policy!.entropy, zero, w).toFloat64Array()[0]!;
      });
    scope(() => {
      for (const [, p] of model.store.trainable()) p.zeroGrad();
      const pass = encoder.run(model.leaves.forward(batch, false), batch, "given");
      policyLoss(
        pass.policy!.logProb,
        pass.policy!.entropy,
        new Float32Array(FOUR_WORD_TREES.length),
        w,
      ).backward();
    });
    const analytic = weight.grad!.toFloat64Array();
    const numeric = numericGradient(weight, loss);
    let nonzero = 0;
    for (let j = 0; j < numeric.length; j++) {
      assert.ok(Math.abs(numeric[j]! - analytic[j]!) < 1e-7, `weight ${j}: ${analytic[j]} vs ${numeric[j]}`);
      if (Math.abs(numeric[j]!) > 1e-4) nonzero++;
    }
    assert.ok(nonzero > 2, "the entropy's gradient is not trivially zero");
    model.dispose();
  });

  test("the objective applies the schedule at the trainer's step", () => {
    const model = rlSpinn();
    const sentence = alongTrees([2, 5, 7, 3], FOUR_WORD_TREES);
    const batch = { indices: [0, 1, 2], labels: Int32Array.from([1, 2, 3]), sentence } as TaskBatch;
    const fixed = {
      transitionWeight: 1,
      reward: "neg-loss",
      baseline: "none",
      baselineDecay: 0.9,
      subtreeWeight: 0,
    } as const;
    /** The objective's total loss at `step`, the sampled trees drawn from the same seed each time. */
    const total = (o: Partial<ObjectiveOptions>, step: number) => {
      const objective = new Objective({ ...fixed, entropyWeight: 0, ...o });
      objective.step = step;
      manualSeed(3);
      return scope(() => objective.loss(model, batch).total.toFloat64Array()[0]!);
    };
    const linear = { entropyWeight: 0.4, entropyDecay: "linear", entropyDecaySteps: 4 } as const;
    assert.equal(total(linear, 0), total({ entropyWeight: 0.4 }, 0));
    assert.equal(total(linear, 2), total({ entropyWeight: 0.2 }, 2));
    assert.equal(total(linear, 4), total({ entropyWeight: 0 }, 4));
    assert.notEqual(total(linear, 0), total(linear, 4));
    model.dispose();
  });
});
