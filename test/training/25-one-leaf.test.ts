// One-word sentences and single-value ListOps expressions ("9<TAB>9", as in the published test
// set) are one-leaf trees everywhere: the readers give them their only tree, models that compose
// along given trees train on and score them, and predict answers them without a parse.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { evaluateListOps, parseListOpsExpression, readListOps } from "../../src/data/listops.js";
import { generateListOps } from "../../src/data/listops-generate.js";
import { readNli } from "../../src/data/nli.js";
import { SHIFT } from "../../src/data/transitions.js";
import { exampleFromLine } from "../../src/inference/predict-input.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-one-leaf-"));
const spinn = (args: string[], input?: string) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", input });

/** Every digit as a single-value expression: its own label. */
const singleValues = Array.from({ length: 10 }, (_, d) => `${d}\t${d}`);

describe("one-leaf trees", () => {
  test("readers give a single word its one-leaf tree (one SHIFT), and longer raw text none", async () => {
    const file = path.join(dir, "single.tsv");
    writeFileSync(file, `${singleValues.join("\n")}\n`);
    const r = await readListOps(file);
    assert.equal(r.examples.length, 10);
    for (const [d, ex] of r.examples.entries()) {
      assert.deepEqual(ex.sentence.tokens, [String(d)]);
      assert.deepEqual([...ex.sentence.transitions!], [SHIFT]);
      assert.equal(evaluateListOps(ex.sentence), d);
    }
    // A flat prefix expression determines its tree: the published binarization.
    const flat = parseListOpsExpression("[MAX 1 2 ]");
    assert.deepEqual(
      [...flat.transitions!],
      [...parseListOpsExpression("( ( ( [MAX 1 ) 2 ) ] )").transitions!],
    );

    const nli = path.join(dir, "one-word.jsonl");
    const pair = { gold_label: "neutral", sentence1: "Dogs", sentence2: "Two dogs run ." };
    writeFileSync(nli, `${JSON.stringify(pair)}\n`);
    const [ex] = (await readNli(nli)).examples;
    assert.deepEqual([...ex!.premise.transitions!], [SHIFT]);
    assert.equal(ex!.hypothesis.transitions, null);

    const input = exampleFromLine('{"premise": "Dogs", "hypothesis": "Cats"}', "nli", "<stdin>", 1);
    assert.ok("premise" in input);
    assert.deepEqual([...input.premise.transitions!], [SHIFT]);
    assert.deepEqual([...input.hypothesis.transitions!], [SHIFT]);
  });

  test("SPINN-PI trains on, evaluates and predicts single-value ListOps expressions", () => {
    const { lines } = generateListOps({ count: 200, seed: 3, maxLength: 8 });
    const train = path.join(dir, "train.tsv");
    const dev = path.join(dir, "dev.tsv");
    writeFileSync(train, `${[...lines.slice(0, 150), ...singleValues].join("\n")}\n`);
    writeFileSync(dev, `${[...lines.slice(150), ...singleValues].join("\n")}\n`);
    const run = path.join(dir, "run");
    const small = ["--d-embed", "8", "--d-hidden", "8", "--d-tracker", "4", "--d-mlp", "8", "--n-mlp", "1"];
    const trained = spinn([
      "train",
      "--task",
      "listops",
      "--train",
      train,
      "--dev",
      dev,
      "--model",
      "spinn-pi",
      "--out",
      run,
      "--epochs",
      "1",
      "--batch-size",
      "16",
      ...small,
      "--json",
    ]);
    assert.equal(trained.status, 0, trained.stderr);
    assert.equal(JSON.parse(trained.stdout.trim().split("\n").pop()!).train_examples, 160);

    const test = path.join(dir, "test.tsv");
    writeFileSync(test, `${[lines[150]!, ...singleValues].join("\n")}\n`);
    const report = path.join(dir, "report.jsonl");
    const evaluated = spinn(["eval", "--model-dir", run, "--data", test, "--report", report, "--json"]);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.equal(JSON.parse(evaluated.stdout.trim().split("\n").pop()!).examples, 11);
    const rows = readFileSync(report, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 11);
    // Each single value is scored along its one-leaf tree: the tree printed is the value itself.
    assert.deepEqual(
      rows.slice(1).map((r) => Object.values(r.trees)),
      singleValues.map((_, d) => [String(d)]),
    );

    const predicted = spinn(["predict", "--model-dir", run], '{"sentence": "7"}\n');
    assert.equal(predicted.status, 0, predicted.stderr);
    assert.deepEqual(JSON.parse(predicted.stdout).trees, { sentence: "7" });
  });
});
