// A training batch of one example (an epoch's last batch, or one long example under a token
// budget): the batch norms' running statistics stay finite, so evaluation afterwards works.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadSafetensors } from "../../src/engine/index.js";
import { defaultTrainOptions } from "../../src/training/options.js";
import { train } from "../../src/training/trainer.js";

test("9 pairs in batches of 4: the last batch of 1 leaves every weight and running statistic finite", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "spinn-one-example-"));
  const labels = ["entailment", "neutral", "contradiction"];
  const lines = labels.flatMap((label, k) =>
    [0, 1, 2].map(() =>
      JSON.stringify({
        gold_label: label,
        sentence1: `A dog runs ${k} .`,
        sentence2: "The dog runs .",
        sentence1_binary_parse: `( ( A dog ) ( runs ( ${k} . ) ) )`,
        sentence2_binary_parse: "( ( The dog ) ( runs . ) )",
      }),
    ),
  );
  const data = path.join(dir, "pairs.jsonl");
  writeFileSync(data, `${lines.join("\n")}\n`);
  const out = path.join(dir, "run");
  const sizes = { dEmbed: 6, dHidden: 5, dTracker: 3, dMlp: 7, nMlp: 1 };
  const options = { task: "nli", train: data, dev: data, out, model: "spinn-pi", epochs: 1 } as const;
  const result = await train(defaultTrainOptions({ ...options, batchSize: 4, ...sizes }));
  assert.equal(result.steps, 3); // 4 + 4 + 1
  const { tensors } = loadSafetensors(path.join(out, "last", "model.safetensors"));
  const runningVars = [...tensors.keys()].filter((k) => k.endsWith("running_var"));
  assert.ok(
    runningVars.some((k) => k.startsWith("classifier.")),
    runningVars.join(", "),
  );
  for (const [name, t] of tensors) {
    assert.ok(t.toFloat64Array().every(Number.isFinite), `${name} is not finite`);
  }
  assert.ok(result.bestDevAccuracy !== null && result.bestDevAccuracy >= 0);
});
