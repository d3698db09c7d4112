// Token-budget evaluation batches change how examples are grouped, never a result: the same
// predictions, probabilities and trees in data order, so the same accuracy.
import assert from "node:assert/strict";
import { test } from "node:test";
import { generatedExamples, generateListOps } from "../../src/data/listops-generate.js";
import { Vocabulary } from "../../src/data/vocabulary.js";
import { manualSeed } from "../../src/engine/index.js";
import { evaluate } from "../../src/inference/evaluate.js";
import { defaultConfig, Model } from "../../src/models/model.js";
import type { TaskData } from "../../src/tasks/task.js";

test("accuracy with token-budget evaluation batches equals accuracy with count batches", () => {
  manualSeed(11);
  const examples = generatedExamples(generateListOps({ count: 120, seed: 5, maxLength: 40 }));
  const data: TaskData = {
    task: "listops",
    file: "<generated>",
    examples,
    skipped: { noGoldLabel: 0, invalid: 0 },
  };
  const vocab = Vocabulary.build(examples.map((e) => e.sentence.tokens));
  for (const encoder of ["spinn-pi", "spinn"] as const) {
    const model = new Model({
      ...defaultConfig("listops", encoder, vocab.size),
      dHidden: 16,
      dTracker: 8,
      dMlp: 16,
    });
    try {
      const counted = evaluate(model, data, vocab, 32, null);
      for (const budget of [1, 50, 400]) {
        const budgeted = evaluate(model, data, vocab, 32, budget);
        assert.equal(budgeted.report.accuracy, counted.report.accuracy, `${encoder}, budget ${budget}`);
        assert.deepEqual(budgeted.predictions.predicted, counted.predictions.predicted);
        assert.deepEqual(budgeted.predictions.trees, counted.predictions.trees);
        const a = budgeted.predictions.probabilities;
        const b = counted.predictions.probabilities;
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6, `probability ${i}`);
      }
    } finally {
      model.dispose();
    }
  }
});
