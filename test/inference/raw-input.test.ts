// The library's calls on raw strings (classify, predictListOps, parse) against the file-based path
// the CLI uses (readTaskData + predict, parseSentences) on the same inputs, and their errors.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { generateListOps } from "../../src/data/listops-generate.js";
import { validateTransitions } from "../../src/data/transitions.js";
import { predict } from "../../src/inference/evaluate.js";
import { parseSentences } from "../../src/inference/parse.js";
import { classify, parse, predictListOps } from "../../src/inference/raw-input.js";
import { type LoadedModel, loadModelDir } from "../../src/models/model-dir.js";
import { readTaskData } from "../../src/tasks/task.js";
import { defaultTrainOptions, type TrainOptions } from "../../src/training/options.js";
import { train } from "../../src/training/trainer.js";

const dir = mkdtempSync(path.join(tmpdir(), "spinn-raw-"));
const tiny = { dEmbed: 8, dHidden: 8, dTracker: 4, dMlp: 8, nMlp: 1, epochs: 1, batchSize: 8 } as const;

const pairs = [
  {
    premise: "A dog runs .",
    hypothesis: "The dog runs .",
    p: "( ( A dog ) ( runs . ) )",
    h: "( ( The dog ) ( runs . ) )",
  },
  {
    premise: "A cat sleeps .",
    hypothesis: "A cat eats .",
    p: "( ( A cat ) ( sleeps . ) )",
    h: "( ( A cat ) ( eats . ) )",
  },
  { premise: "Dogs", hypothesis: "Two dogs play .", p: "Dogs", h: "( ( Two dogs ) ( play . ) )" },
];
const labels = ["entailment", "neutral", "contradiction"];
const nliFile = path.join(dir, "nli.jsonl");
writeFileSync(
  nliFile,
  Array.from({ length: 24 }, (_, i) => {
    const x = pairs[i % 3]!;
    const row = {
      gold_label: labels[i % 3],
      pairID: String(i),
      sentence1: x.premise,
      sentence2: x.hypothesis,
    };
    return JSON.stringify({ ...row, sentence1_binary_parse: x.p, sentence2_binary_parse: x.h });
  }).join("\n"),
);
const { lines } = generateListOps({ count: 60, seed: 5, maxLength: 8 });
const listopsFile = path.join(dir, "listops.tsv");
writeFileSync(listopsFile, `${lines.join("\n")}\n`);

async function trained(name: string, o: Partial<TrainOptions> & Pick<TrainOptions, "task" | "model">) {
  const file = o.task === "nli" ? nliFile : listopsFile;
  const out = path.join(dir, name);
  await train(defaultTrainOptions({ train: file, dev: file, out, ...tiny, ...o }));
  return loadModelDir(out);
}

describe("raw-input calls", () => {
  const models: Record<string, LoadedModel> = {};
  before(async () => {
    models.pi = await trained("pi", { task: "nli", model: "spinn-pi" });
    models.full = await trained("full", { task: "nli", model: "spinn" });
    models.lstm = await trained("lstm", { task: "nli", model: "lstm" });
    models.listops = await trained("listops", { task: "listops", model: "spinn-pi" });
  });
  after(() => {
    for (const m of Object.values(models)) m.model.dispose();
  });

  test("classify gives the file path's predictions, with the trees used", async () => {
    const data = await readTaskData(nliFile, "nli");
    const expected = predict(models.pi!.model, data, models.pi!.vocab);
    const got = classify(
      models.pi!,
      pairs.map((x) => ({
        premise: x.premise,
        hypothesis: x.hypothesis,
        premiseParse: x.p,
        hypothesisParse: x.h,
      })),
    );
    got.forEach((g, i) => {
      assert.equal(g.label, labels[expected.predicted[i]!]);
      labels.forEach((label, c) => {
        assert.ok(Math.abs(g.probabilities[label]! - expected.probabilities[i * 3 + c]!) < 1e-6);
      });
      assert.deepEqual(g.trees, { premise: pairs[i]!.p, hypothesis: pairs[i]!.h });
    });
  });

  test("a model that parses classifies raw strings; one without trees reports none", () => {
    const raw = pairs.map((x) => ({ premise: x.premise, hypothesis: x.hypothesis }));
    for (const r of classify(models.full!, raw)) {
      assert.ok(labels.includes(r.label));
      const total = Object.values(r.probabilities).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total - 1) < 1e-5);
      assert.ok(r.trees.premise && r.trees.hypothesis);
    }
    assert.deepEqual(classify(models.lstm!, raw)[0]!.trees, { premise: null, hypothesis: null });
  });

  test("errors name the item, the field and what to do", () => {
    assert.throws(
      () => classify(models.pi!, [{ premise: "A dog runs .", hypothesis: "A cat ." }]),
      /<input>:1: premise: no parse, and spinn-pi composes along given trees \(give premiseParse/,
    );
    assert.throws(
      () => classify(models.pi!, [{ premise: "x", hypothesis: "y", hypothesisParse: "( a" }]),
      /<input>:1: hypothesis: unbalanced brackets/,
    );
    assert.throws(() => predictListOps(models.pi!, ["[MAX 1 2 ]"]), /predictListOps needs a listops model/);
    assert.throws(() => parse(models.pi!, ["A dog runs ."]), /does not parse: train one with --model spinn/);
  });

  test("predictListOps equals the file path on the same expressions", async () => {
    const data = await readTaskData(listopsFile, "listops");
    const expected = predict(models.listops!.model, data, models.listops!.vocab);
    const expressions = lines.map((l) => l.split("\t")[1]!);
    const got = predictListOps(models.listops!, expressions);
    assert.deepEqual(
      got.map((g) => Number(g.label)),
      [...expected.predicted],
    );
    assert.equal(got[0]!.trees.expression, expressions[0]);
  });

  test("parse returns valid trees, the same as parseSentences", () => {
    const sentences = ["A dog runs in the park .", "Cats", "Two men play music together ."];
    const got = parse(models.full!, sentences);
    const direct = parseSentences(
      models.full!.model,
      models.full!.vocab,
      got.map((g) => ({ tokens: g.tokens, transitions: null })),
    );
    got.forEach((g, i) => {
      validateTransitions(g.transitions, g.tokens.length);
      assert.deepEqual([...g.transitions], [...direct[i]!]);
    });
    assert.deepEqual(got[1], { tokens: ["Cats"], transitions: Uint8Array.of(0), tree: "Cats" });
  });
});
