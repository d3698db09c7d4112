// PPO-style policy passes for RL-SPINN (ppo.ts): the clipped surrogate's gradient is REINFORCE's
// where the ratio is 1, the clip zeroes it where the min selects the clipped term (by hand on a
// tiny case), the passes move the policy towards trees of positive advantage and only the policy,
// and the CLI refuses them data-parallel.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { noGrad, SGD, scope, tensor } from "../../src/engine/index.js";
import type { Model } from "../../src/models/model.js";
import type { TaskBatch } from "../../src/tasks/task.js";
import { groupedOptimizer, isPolicyParameter } from "../../src/training/policy-update.js";
import { clippedSurrogate, ppoPasses, recordSample, treeLogProb } from "../../src/training/ppo.js";
import { policyLoss } from "../../src/training/reinforce.js";
import { copiesOf, FOUR_WORD_TREES } from "../models/sentence-batches.js";
import { tinyRlSpinn } from "../models/tiny-rl-spinn.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "../../src/cli/main.js");

const rlSpinn = (): Model => tinyRlSpinn(17);

const TREES = FOUR_WORD_TREES.map((t) => Uint8Array.from(t));

/** One copy of a 4-word sentence per tree (the trees are given separately, as sampled ones are). */
function batchOf(ids: number[], copies: number): TaskBatch {
  const indices = Array.from({ length: copies }, (_, i) => i);
  return { indices, labels: new Int32Array(copies), sentence: copiesOf(ids, copies) } as TaskBatch;
}

function grads(model: Model): Float64Array[] {
  return model.store.trainable().map(([, p]) => p.grad?.toFloat64Array() ?? new Float64Array(p.numel));
}

describe("the clipped surrogate", () => {
  test("at the first pass (r = 1) its gradient is REINFORCE's, for every parameter", () => {
    const model = rlSpinn();
    const batch = batchOf([2, 5, 7, 3], TREES.length);
    const adv = Float32Array.from([0.5, -1, 2]);
    const zero = () => {
      for (const [, p] of model.store.trainable()) p.zeroGrad();
    };
    zero();
    scope(() => {
      const logp = treeLogProb(model, batch, TREES);
      clippedSurrogate(logp, logp.detach(), adv, 0.2).backward();
    });
    const ppo = grads(model);
    zero();
    scope(() => {
      const logp = treeLogProb(model, batch, TREES);
      policyLoss(logp, logp, adv, 0).backward();
    });
    const reinforce = grads(model);
    let nonzero = 0;
    ppo.forEach((g, k) =>
      g.forEach((x, i) => {
        assert.ok(
          Math.abs(x - reinforce[k]![i]!) < 1e-12,
          `parameter ${k}[${i}]: ${x} vs ${reinforce[k]![i]}`,
        );
        if (Math.abs(x) > 1e-6) nonzero++;
      }),
    );
    assert.ok(nonzero > 5, "the gradient is not trivially zero");
    model.dispose();
  });

  test("the clip zeroes the gradient where the min selects the clipped term (by hand, ε = 0.2)", () => {
    // r = 1.5, 0.9 with A = +1; r = 0.5, 1.5 with A = −1; over n = 4 examples.
    const r = [1.5, 0.9, 0.5, 1.5];
    const adv = Float32Array.from([1, 1, -1, -1]);
    scope(() => {
      const logp = tensor(Float64Array.from(r, Math.log), { requiresGrad: true });
      const old = tensor(new Float64Array(4));
      const loss = clippedSurrogate(logp, old, adv, 0.2);
      // min(r·A, clip(r)·A): 1.2 (clipped), 0.9, −0.8 (clipped), −1.5: loss = −(1.2 + 0.9 − 0.8 − 1.5) / 4.
      assert.ok(Math.abs(loss.toFloat64Array()[0]! - 0.05) < 1e-12);
      loss.backward();
      // d/dlogp of −r·A/4 = −r·A/4 where unclipped, 0 where clipped.
      const expected = [0, -0.9 / 4, 0, 1.5 / 4];
      const g = logp.grad!.toFloat64Array();
      expected.forEach((e, i) => assert.ok(Math.abs(g[i]! - e) < 1e-12, `example ${i}: ${g[i]} vs ${e}`));
    });
  });
});

describe("PPO passes", () => {
  for (const parser of [false, true]) {
    test(`move the policy towards the tree of positive advantage, away from the negative one, and change only the policy${parser ? " (a separate parser)" : ""}`, () => {
      const model = tinyRlSpinn(17, { parser });
      const batch = batchOf([2, 5, 7, 3], TREES.length);
      const params = model.store.trainable();
      const optimizer = groupedOptimizer(params, { lr: 0.05, ppoEpochs: 4 }, (p, lr) => new SGD(p, { lr }));
      const logp = () => noGrad(() => treeLogProb(model, batch, TREES).toFloat64Array());
      const before = logp();
      const others = params.filter(([n]) => !isPolicyParameter(n)).map(([, p]) => p.toFloat64Array());
      const sample = recordSample(model, batch, TREES, Float32Array.from([1, -1, 0]));
      assert.deepEqual([...sample.oldLogProb], [...before]);
      ppoPasses(model, optimizer, sample, { passes: 3, clip: 0.2, weight: 1, clipNorm: 0 });
      const after = logp();
      assert.ok(after[0]! > before[0]!, `tree 0 (A > 0): ${before[0]} → ${after[0]}`);
      assert.ok(after[1]! < before[1]!, `tree 1 (A < 0): ${before[1]} → ${after[1]}`);
      params
        .filter(([n]) => !isPolicyParameter(n))
        .forEach(([name, p], k) => assert.deepEqual(p.toFloat64Array(), others[k], name));
      optimizer.dispose();
      model.dispose();
    });
  }

  test("the CLI refuses --ppo-epochs > 1 with --nproc > 1, in one line", () => {
    const r = spawnSync(
      process.execPath,
      [cli, "train", "--task", "listops", "--train", cli, "--dev", cli, "--model", "rl-spinn"].concat([
        "--out",
        path.join(here, "never-written"),
        "--ppo-epochs",
        "2",
        "--nproc",
        "2",
      ]),
      { encoding: "utf8" },
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr.trim(), /^[^\n]*--ppo-epochs > 1 trains in one process[^\n]*$/);
  });
});
