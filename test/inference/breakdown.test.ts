// Accuracy and tree F1 by length bin and nesting depth, against values worked out by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseListOpsExpression } from "../../src/data/listops.js";
import { parseBinaryParse } from "../../src/data/transitions.js";
import { breakdown, formatBreakdown, lengthBin } from "../../src/inference/breakdown.js";
import { treeSource } from "../../src/models/kinds.js";
import type { TaskData } from "../../src/tasks/task.js";

const listops = (examples: [label: number, expression: string][]): TaskData => ({
  task: "listops",
  file: "<test>",
  skipped: { noGoldLabel: 0, invalid: 0 },
  examples: examples.map(([label, expression], i) => ({
    id: String(i),
    label,
    sentence: parseListOpsExpression(expression),
    source: { file: "<test>", line: i + 1 },
  })),
});

/** [SM 1 1 … 1 ] with n ones: n + 2 tokens, depth 1, value n mod 10. */
const ones = (n: number) => `[SM ${"1 ".repeat(n)}]`;

test("length bins: tokens without brackets, bounds inclusive", () => {
  assert.equal(lengthBin(4), "<=20");
  assert.equal(lengthBin(20), "<=20");
  assert.equal(lengthBin(21), "21-40");
  assert.equal(lengthBin(100), "41-100");
  assert.equal(lengthBin(101), "101-200");
  assert.equal(lengthBin(500), "201-500");
  assert.equal(lengthBin(1000), "501-1000");
  assert.equal(lengthBin(1001), ">1000");
});

test("ListOps accuracy by length and by depth, worked out by hand", () => {
  const data = listops([
    [9, "[MAX 2 9 ]"], // 4 tokens, depth 1: right
    [2, "[MIN [MAX 1 2 ] 3 ]"], // 7 tokens, depth 2: wrong
    [0, ones(20)], // 22 tokens, depth 1: right
    [8, ones(98)], // 100 tokens: right
    [9, ones(99)], // 101 tokens: wrong
  ]);
  const b = breakdown(data, null, [9, 3, 0, 8, 1]);
  assert.deepEqual(b.byLength, [
    { bin: "<=20", examples: 2, correct: 1, accuracy: 0.5, treeF1: null },
    { bin: "21-40", examples: 1, correct: 1, accuracy: 1, treeF1: null },
    { bin: "41-100", examples: 1, correct: 1, accuracy: 1, treeF1: null },
    { bin: "101-200", examples: 1, correct: 0, accuracy: 0, treeF1: null },
  ]);
  assert.deepEqual(b.byDepth, [
    { depth: 1, examples: 4, correct: 3, accuracy: 0.75, treeF1: null },
    { depth: 2, examples: 1, correct: 0, accuracy: 0, treeF1: null },
  ]);
  // Outermost operators: MAX (right), MIN (wrong), SM three times (two right).
  assert.deepEqual(b.byOperator, [
    { operator: "MIN", examples: 1, correct: 0, accuracy: 0, treeF1: null },
    { operator: "MAX", examples: 1, correct: 1, accuracy: 1, treeF1: null },
    { operator: "SM", examples: 3, correct: 2, accuracy: 2 / 3, treeF1: null },
  ]);
  const text = formatBreakdown(b);
  assert.match(text, /^by outermost operator:$/m);
  assert.match(text, /^ {2}SM +3 +66\.67%$/m);
  assert.match(text, /^ {2}<=20 +2 +50\.00%$/m);
  assert.match(text, /^ {2}2 +1 +0\.00%$/m);
  assert.doesNotMatch(text, /tree F1/);
});

test("a lone digit has no operator: its own row, after the operators", () => {
  const b = breakdown(
    listops([
      [5, "5"],
      [3, "[SM 1 2 ]"],
      [7, "7"],
    ]),
    null,
    [5, 0, 7],
  );
  assert.deepEqual(b.byOperator, [
    { operator: "SM", examples: 1, correct: 0, accuracy: 0, treeF1: null },
    { operator: "digit", examples: 2, correct: 2, accuracy: 1, treeF1: null },
  ]);
});

test("the trees' F1 by bin: the trees used against the data's parses", () => {
  const given = listops([
    [9, "[MAX 2 9 ]"],
    [2, "[MIN [MAX 1 2 ] 3 ]"],
  ]);
  // The first composed right-branching, ( [MAX ( 2 ( 9 ] ) ) ): spans {1:4, 2:4} against the
  // parse's {0:2, 0:3}, F1 0; the second along its parse, F1 1. Both are <= 20 tokens, depth 1 and 2.
  const used: TaskData = {
    ...given,
    examples: [
      { ...given.examples[0]!, sentence: parseBinaryParse("( [MAX ( 2 ( 9 ] ) ) )") },
      given.examples[1]!,
    ],
  };
  const b = breakdown(given, used, [9, 2]);
  assert.deepEqual(
    b.byLength.map((r) => [r.bin, r.treeF1]),
    [["<=20", 0.5]],
  );
  assert.deepEqual(
    b.byDepth!.map((r) => [r.depth, r.treeF1]),
    [
      [1, 0],
      [2, 1],
    ],
  );
  assert.match(formatBreakdown(b), /^ {2}<=20 +2 +100\.00% +50\.0%$/m);
});

test("NLI: a pair's length is its longer sentence; no depth", () => {
  const sentence = (n: number) => ({
    tokens: Array.from({ length: n }, (_, i) => `w${i}`),
    transitions: null,
  });
  const data: TaskData = {
    task: "nli",
    file: "<test>",
    skipped: { noGoldLabel: 0, invalid: 0 },
    examples: [
      {
        id: "a",
        label: 0,
        premise: sentence(25),
        hypothesis: sentence(5),
        source: { file: "<test>", line: 1 },
      },
      {
        id: "b",
        label: 1,
        premise: sentence(3),
        hypothesis: sentence(4),
        source: { file: "<test>", line: 2 },
      },
    ],
  };
  const b = breakdown(data, null, [0, 0]);
  assert.deepEqual(
    b.byLength.map((r) => [r.bin, r.examples, r.correct]),
    [
      ["<=20", 1, 0],
      ["21-40", 1, 1],
    ],
  );
  assert.equal(b.byDepth, null);
  assert.equal(b.byOperator, null);
});

test("tree sources: given, fixed, predicted or none", () => {
  assert.equal(treeSource("spinn-pi", "gold"), "given");
  assert.equal(treeSource("spinn-pi-nt", "left"), "left");
  assert.equal(treeSource("spinn", "gold"), "predicted");
  assert.equal(treeSource("rl-spinn", "gold"), "predicted");
  assert.equal(treeSource("lstm", "gold"), "none");
});
