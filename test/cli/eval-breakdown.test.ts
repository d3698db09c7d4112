// `spinn eval` on ListOps: accuracy by length bin and nesting depth, and which trees were used
// (given, or the model's own), end to end on a small file whose bins are known by construction.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-breakdown-"));

function spinn(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
}

// 12 lists of 4 tokens (depth 1), 8 nested lists of 7 tokens (depth 2), 4 sums of 25 ones
// (27 tokens, depth 1), flat prefix form: label<TAB>expression.
const lines: string[] = [];
for (let i = 0; i < 12; i++)
  lines.push(`${Math.max(i % 10, (3 * i) % 10)}\t[MAX ${i % 10} ${(3 * i) % 10} ]`);
for (let i = 0; i < 8; i++) {
  const [a, b, c] = [i, (i + 4) % 10, (7 * i) % 10];
  lines.push(`${Math.min(Math.max(a, b), c)}\t[MIN [MAX ${a} ${b} ] ${c} ]`);
}
for (let i = 0; i < 4; i++) lines.push(`5\t[SM ${"1 ".repeat(25)}]`);
const data = path.join(dir, "listops.tsv");
writeFileSync(data, `${lines.join("\n")}\n`);
const small = ["--d-embed", "8", "--d-hidden", "8", "--d-tracker", "4", "--d-mlp", "8", "--n-mlp", "1"];

function trainAndEval(model: string) {
  const out = path.join(dir, model);
  const t = spinn([
    "train",
    ...["--task", "listops", "--train", data, "--dev", data, "--model", model, "--out", out],
    ...["--epochs", "1", "--batch-size", "8", ...small, "--json"],
  ]);
  assert.equal(t.status, 0, t.stderr);
  const report = path.join(dir, `${model}.jsonl`);
  const e = spinn(["eval", "--model-dir", out, "--data", data, "--report", report, "--json"]);
  assert.equal(e.status, 0, e.stderr);
  const right = readFileSync(report, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .map((r) => r.gold === r.predicted);
  return { out, summary: JSON.parse(e.stdout), right };
}

/** Correct answers among the report's lines i in [from, to). */
const correct = (right: boolean[], from: number, to: number) => right.slice(from, to).filter(Boolean).length;

describe("eval by length and depth", () => {
  test("SPINN-PI: given trees, bins and depths as constructed", () => {
    const { out, summary: s, right } = trainAndEval("spinn-pi");
    assert.equal(s.tree_source, "given");
    assert.equal(s.transitions, undefined);
    assert.deepEqual(s.by_length, [
      {
        bin: "<=20",
        examples: 20,
        correct: correct(right, 0, 20),
        accuracy: correct(right, 0, 20) / 20,
        tree_f1: null,
      },
      {
        bin: "21-40",
        examples: 4,
        correct: correct(right, 20, 24),
        accuracy: correct(right, 20, 24) / 4,
        tree_f1: null,
      },
    ]);
    const depth1 = correct(right, 0, 12) + correct(right, 20, 24);
    assert.deepEqual(s.by_depth, [
      { depth: 1, examples: 16, correct: depth1, accuracy: depth1 / 16, tree_f1: null },
      {
        depth: 2,
        examples: 8,
        correct: correct(right, 12, 20),
        accuracy: correct(right, 12, 20) / 8,
        tree_f1: null,
      },
    ]);
    // Outermost operators: MIN (lines 12-19), MAX (0-11), SM (20-23), in the operators' order.
    const ops = (operator: string, from: number, to: number) => ({
      operator,
      examples: to - from,
      correct: correct(right, from, to),
      accuracy: correct(right, from, to) / (to - from),
      tree_f1: null,
    });
    assert.deepEqual(s.by_operator, [ops("MIN", 12, 20), ops("MAX", 0, 12), ops("SM", 20, 24)]);
    const text = spinn(["eval", "--model-dir", out, "--data", data]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /trees \(given\)/);
    assert.match(text.stdout, /^by outermost operator:$/m);
    assert.match(text.stdout, /^ {2}SM +4 +\d+\.\d\d%$/m);
    assert.match(text.stdout, /^ {2}21-40 +4 +\d+\.\d\d%$/m);
    assert.match(text.stdout, /^ {2}2 +8 +\d+\.\d\d%$/m);
  });

  test("RL-SPINN: its own trees are reported as predicted, with their F1 by bin", () => {
    const { summary: s } = trainAndEval("rl-spinn");
    assert.equal(s.tree_source, "predicted");
    // Every expression has constituents to compare, so the overall F1 is the examples' mean.
    const rows = s.by_length as { examples: number; tree_f1: number }[];
    const mean = rows.reduce((a, r) => a + r.tree_f1 * r.examples, 0) / 24;
    assert.ok(Math.abs(mean - s.trees.f1_vs_gold) < 1e-12, `${mean} vs ${s.trees.f1_vs_gold}`);
  });
});
