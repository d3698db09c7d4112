// `spinn predict`'s path leaves nothing native behind (issue 11): after any number of batches,
// one garbage collection brings the live tensors and the tensor handles back to their baseline.
import assert from "node:assert/strict";
import { test } from "node:test";
import { generatedExamples, generateListOps } from "../../src/data/listops-generate.js";
import { Vocabulary } from "../../src/data/vocabulary.js";
import { manualSeed, memory } from "../../src/engine/index.js";
import { predict } from "../../src/inference/evaluate.js";
import { defaultConfig, Model } from "../../src/models/model.js";
import { fullGc } from "../engine/gc.js";

test("predict: live tensors and handles return to their baseline after one collection", async () => {
  const examples = generatedExamples(generateListOps({ count: 64, seed: 5, maxLength: 12 }));
  const vocab = Vocabulary.build(examples.map((e) => e.sentence.tokens));
  manualSeed(2);
  const config = {
    ...defaultConfig("listops", "spinn-pi", vocab.size),
    dEmbed: 6,
    dHidden: 5,
    dTracker: 3,
    dMlp: 7,
  };
  const model = new Model(config);
  const data = {
    task: "listops" as const,
    file: "<generated>",
    examples,
    skipped: { noGoldLabel: 0, invalid: 0 },
  };
  predict(model, data, vocab, 8); // warm-up
  for (let i = 0; i < 4; i++) await fullGc(); // settle what earlier work left
  const before = memory();
  for (let round = 0; round < 5; round++) predict(model, data, vocab, 8); // 40 batches
  assert.equal(memory().tensors, before.tensors);
  await fullGc();
  const after = memory();
  assert.equal(after.tensors, before.tensors);
  assert.ok(
    after.handles <= before.handles,
    `${after.handles - before.handles} handles still held after a collection`,
  );
  model.dispose();
});
