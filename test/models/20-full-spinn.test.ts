// Full SPINN: the tracker predicts SHIFT/REDUCE. Masked choices always give a valid binary tree;
// teacher forcing scores the given transitions; following its own predictions needs no parses
// and still does not depend on the batch.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SentenceBatch } from "../../src/data/batching.js";
import { Rng } from "../../src/data/rng.js";
import { REDUCE, SHIFT, SKIP } from "../../src/data/transitions.js";
import { bracketed } from "../../src/data/tree-format.js";
import { manualSeed, noGrad, scope } from "../../src/engine/index.js";
import { defaultConfig, Model } from "../../src/models/model.js";
import { chooseAction, type SpinnEncoder } from "../../src/models/spinn.js";
import { StackMachine } from "../../src/models/stack-machine.js";

function rawBatch(
  lengths: number[],
  ids = (i: number, j: number) => 2 + ((i * 7 + j * 3) % 15),
): SentenceBatch {
  const width = Math.max(...lengths);
  const out = new Int32Array(lengths.length * width);
  lengths.forEach((n, i) => {
    for (let j = 0; j < n; j++) out[i * width + j] = ids(i, j);
  });
  return {
    size: lengths.length,
    width,
    ids: out,
    lengths: Int32Array.from(lengths),
    steps: 0,
    transitions: null,
  };
}

function fullSpinn(): Model {
  manualSeed(21);
  const config = {
    ...defaultConfig("listops", "spinn", 20),
    dEmbed: 5,
    dHidden: 4,
    dTracker: 3,
    dMlp: 6,
    nMlp: 1,
  };
  return new Model(config, { dtype: "float64" });
}

describe("full SPINN", () => {
  test("masked choices under any scores always build one binary tree over all words", () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + rng.int(12);
      const machine = new StackMachine(Int32Array.from([n]));
      const actions = new Uint8Array(1);
      for (let s = 0; s < 2 * n - 1; s++) {
        actions[0] = chooseAction(rng.normal(), rng.normal() * 3, machine.canShift(0), machine.canReduce(0));
        machine.apply(actions, s); // throws on an invalid action
      }
      assert.ok(machine.isDone(0), `length ${n}, trial ${trial}`);
    }
    assert.equal(chooseAction(0, 1, true, true), REDUCE);
    assert.equal(chooseAction(1, 0, true, true), SHIFT);
    assert.equal(chooseAction(0, 5, true, false), SHIFT);
    assert.equal(chooseAction(5, 0, false, true), REDUCE);
  });

  test("without parses it follows its own predictions, and a sentence's tree and encoding do not depend on its batch", () => {
    const model = fullSpinn();
    const lengths = [1, 4, 7, 3, 9];
    noGrad(() =>
      scope(() => {
        const enc = model.encoder as SpinnEncoder;
        const leavesAll = model.leaves.forward(rawBatch(lengths), false);
        const all = enc.run(leavesAll, rawBatch(lengths), "greedy");
        lengths.forEach((n, i) => {
          const tree = all.trees!.transitions.slice(i * all.trees!.steps, i * all.trees!.steps + 2 * n - 1);
          assert.ok(
            bracketed(
              Array.from({ length: n }, (_, j) => `w${j}`),
              tree,
            ),
          ); // a valid tree
          assert.ok(
            all
              .trees!.transitions.slice(i * all.trees!.steps + 2 * n - 1, (i + 1) * all.trees!.steps)
              .every((a) => a === SKIP),
          );
          const single = rawBatch([n], (_, j) => 2 + ((i * 7 + j * 3) % 15));
          const alone = enc.run(model.leaves.forward(single, false), single, "greedy");
          assert.deepEqual(alone.trees!.transitions.slice(0, 2 * n - 1), tree, `sentence ${i} tree`);
          const diff = alone.encoding
            .sub(all.encoding.narrow(0, i, 1))
            .abs()
            .max()
            .item();
          assert.ok(diff < 1e-9, `sentence ${i} encoding`);
        });
      }),
    );
    model.dispose();
  });

  test("teacher forcing scores the given transitions and trains the transition classifier", () => {
    const model = fullSpinn();
    scope(() => {
      const batch = rawBatch([3, 2]);
      // ((a b) c) and (a b)
      batch.steps = 5;
      batch.transitions = Uint8Array.from([
        SHIFT,
        SHIFT,
        REDUCE,
        SHIFT,
        REDUCE,
        SHIFT,
        SHIFT,
        REDUCE,
        SKIP,
        SKIP,
      ]);
      const pass = model.run({ indices: [0, 1], labels: new Int32Array([1, 2]), sentence: batch }, true);
      assert.ok(pass.transitionLoss);
      const loss = pass.transitionLoss.item();
      assert.ok(loss > 0 && Number.isFinite(loss));
      assert.deepEqual(
        pass.trees?.map((t) => [...t]),
        [
          [SHIFT, SHIFT, REDUCE, SHIFT, REDUCE],
          [SHIFT, SHIFT, REDUCE],
        ],
      );
      pass.transitionLoss.backward();
      const g = (model.encoder as SpinnEncoder).tracker!.transition!.weight.grad;
      assert.ok(g && g.abs().sum().item() > 0);
    });
    model.dispose();
  });
});
