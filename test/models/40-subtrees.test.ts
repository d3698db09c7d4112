// --subtree-weight: every sub-list's value, read out of its state by the classifier that reads
// the whole expression. The values and where they close, by hand; the read-out against the same
// sub-list encoded on its own (SPINN-PI-NT is purely recursive, so a sub-list's state does not
// depend on what surrounds it); the loss against a cross-entropy computed here.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeListOpsBatch } from "../../src/data/batching.js";
import { type ListOpsExample, listOpsSubtreeValues, parseListOpsExpression } from "../../src/data/listops.js";
import { Vocabulary } from "../../src/data/vocabulary.js";
import { manualSeed, noGrad, scope } from "../../src/engine/index.js";
import { defaultConfig, Model } from "../../src/models/model.js";
import { Objective } from "../../src/training/objective.js";
import { TRAIN_DEFAULTS } from "../../src/training/options.js";

const example = (label: number, expression: string, subtrees = true): ListOpsExample => {
  const sentence = parseListOpsExpression(expression);
  return {
    id: expression,
    label,
    sentence,
    source: { file: "<test>", line: 1 },
    ...(subtrees ? { subtrees: listOpsSubtreeValues(sentence) } : {}),
  };
};

const vocab = Vocabulary.build([["[MAX", "[MIN", "[MED", "[SM", "]", ..."0123456789"]]);

function model(encoder: "spinn-pi-nt" | "spinn-pi"): Model {
  manualSeed(3);
  const config = {
    ...defaultConfig("listops", encoder, vocab.size),
    dEmbed: 6,
    dHidden: 5,
    dTracker: 3,
    dMlp: 7,
    nMlp: 1,
    embedDropout: 0,
    mlpDropout: 0,
  };
  return new Model(config, { dtype: "float64" });
}

describe("sub-list values", () => {
  test("where each sub-list closes and its value, by hand; the whole expression is left out", () => {
    // [MAX 2 [MIN 4 7 ] [SM 5 6 ] ]: S S R | S S R S R S R (closes [MIN: 9) R | S S R S R S R
    // (closes [SM: 17) R | S R (the whole, 20).
    const s = listOpsSubtreeValues(parseListOpsExpression("[MAX 2 [MIN 4 7 ] [SM 5 6 ] ]"));
    assert.deepEqual([...s.steps], [9, 17]);
    assert.deepEqual([...s.values], [4, 1]);
    assert.deepEqual([...listOpsSubtreeValues(parseListOpsExpression("[MAX 2 9 ]")).steps], []);
    const nested = listOpsSubtreeValues(parseListOpsExpression("[SM [MED [MAX 1 8 ] 3 ] 9 ]"));
    assert.deepEqual([...nested.values], [8, 5]); // MAX 1 8 = 8, MED 8 3 = floor(5.5) = 5
    assert.throws(
      () => listOpsSubtreeValues({ tokens: ["[MAX", "2", "]"], transitions: Uint8Array.of(0, 0, 0, 1, 1) }),
      /not a binarized ListOps tree/,
    );
  });

  test("a batch lists its sub-lists row by row; without values, none", () => {
    const rows = [example(9, "[MAX 2 9 ]"), example(9, "[MAX 2 [MIN 4 7 ] [SM 5 6 ] ]")];
    const b = encodeListOpsBatch(rows, { indices: [0, 1] }, vocab);
    assert.deepEqual([...b.subtrees!.sentence], [1, 1]);
    assert.deepEqual([...b.subtrees!.step], [9, 17]);
    assert.deepEqual([...b.subtrees!.labels], [4, 1]);
    const plain = [example(9, "[MAX 2 9 ]", false), rows[1]!];
    assert.equal(encodeListOpsBatch(plain, { indices: [0, 1] }, vocab).subtrees, undefined);
  });

  test("SPINN-PI-NT: a sub-list's read-out equals the classifier on that sub-list alone", () => {
    const m = model("spinn-pi-nt");
    scope(() =>
      noGrad(() => {
        const rows = [
          example(9, "[MAX 2 [MIN 4 7 ] [SM 5 6 ] ]"),
          example(4, "[MIN 4 7 ]"),
          example(1, "[SM 5 6 ]"),
        ];
        const whole = m.run(encodeListOpsBatch(rows, { indices: [0] }, vocab), false);
        const alone = m.run(encodeListOpsBatch(rows, { indices: [1, 2] }, vocab), false);
        const a = whole.subtreeLogits!.toFloat64Array();
        const b = alone.logits.toFloat64Array();
        assert.equal(a.length, 20);
        a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-12, `${i}: ${x} vs ${b[i]}`));
      }),
    );
    m.dispose();
  });

  test("the loss adds the weighted cross-entropy of the sub-lists' values", () => {
    const m = model("spinn-pi");
    scope(() => {
      const rows = [example(9, "[MAX 2 [MIN 4 7 ] [SM 5 6 ] ]"), example(5, "[SM [MED [MAX 1 8 ] 3 ] 9 ]")];
      const batch = encodeListOpsBatch(rows, { indices: [0, 1] }, vocab);
      const loss = (w: number) => new Objective({ ...TRAIN_DEFAULTS, subtreeWeight: w }).loss(m, batch);
      const plain = loss(0);
      const weighted = loss(0.5);
      // The same pass (no dropout): the task loss is the same; the difference is 0.5 × the mean
      // cross-entropy of the four sub-lists, computed here from the read-out's scores.
      const logits = noGrad(() => m.run(batch, true).subtreeLogits!.toFloat64Array());
      const values = [4, 1, 8, 5];
      let ce = 0;
      values.forEach((v, k) => {
        const row = logits.subarray(10 * k, 10 * (k + 1));
        const max = Math.max(...row);
        const logSum = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
        ce += logSum - row[v]!;
      });
      ce /= values.length;
      assert.ok(Math.abs(plain.task.item() - weighted.task.item()) < 1e-12);
      assert.ok(Math.abs(plain.total.item() - plain.task.item()) < 1e-12);
      assert.ok(Math.abs(weighted.total.item() - plain.total.item() - 0.5 * ce) < 1e-10);
    });
    m.dispose();
  });
});
