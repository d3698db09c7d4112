// Trees far deeper than the call stack allows recursion over: 50,000-word chains (fully left- and
// fully right-branching) and a ~20,000-token ListOps expression nested ~6,700 operators deep
// (tree depth ~13,000). Every computation on trees must walk them with explicit stacks; the
// expected values here come from formulas or independent constructions, not from the code tested.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  evaluateListOps,
  evaluateListOpsTokens,
  listOpsDepth,
  listOpsTransitions,
  readListOps,
} from "../../src/data/listops.js";
import { generateListOps } from "../../src/data/listops-generate.js";
import {
  branchingTransitions,
  cropSentence,
  parseBinaryParse,
  toBinaryParse,
  validateTransitions,
} from "../../src/data/transitions.js";
import { bracketed, drawTree, MAX_DRAWN_DEPTH } from "../../src/data/tree-format.js";
import { bracketF1, branchingCounts, constituents } from "../../src/data/tree-metrics.js";
import { fixtureDir } from "./helpers.js";

const N = 50_000;
const words = Array.from({ length: N }, (_, i) => `w${i}`);
const left = branchingTransitions(N, "left");
const right = branchingTransitions(N, "right");

/** A drawn line's depth (left-out levels plus 3-character indentation units) and its label. */
function readLine(line: string): { depth: number; label: string } {
  const marker = /^«(\d+)» /.exec(line);
  const hidden = marker ? Number(marker[1]) : 0;
  const rest = marker ? line.slice(marker[0].length) : line;
  const indent = /^(?:│ {2}| {3}|├─ |└─ )*/.exec(rest)![0];
  return { depth: hidden + indent.length / 3, label: rest.slice(indent.length) };
}

function checkDrawing(drawing: string, expected: { depth: number; label: string }[]): void {
  const lines = drawing.split("\n");
  assert.equal(lines.length, expected.length);
  // Indentation is capped: the marker, MAX_DRAWN_DEPTH units, a connector and the label.
  const longest = Math.max(...expected.map((e) => e.label.length));
  const bound = `«${N}» `.length + 3 * (MAX_DRAWN_DEPTH + 1) + longest;
  lines.forEach((line, i) => {
    assert.ok(line.length <= bound, `line ${i + 1} is ${line.length} characters long`);
    const got = readLine(line);
    if (got.depth !== expected[i]!.depth || got.label !== expected[i]!.label) {
      assert.deepEqual(got, expected[i], `line ${i + 1}`);
    }
  });
}

test("a 50,000-word left-branching chain: brackets, round trip, drawing, metrics", () => {
  validateTransitions(left, N);
  const text = bracketed(words, left);
  // ( ( ( w0 w1 ) w2 ) … ): n − 1 "(" first, then every word after the first closes a node.
  const expected = `${"( ".repeat(N - 1)}w0 ${words
    .slice(1)
    .map((w) => `${w} )`)
    .join(" ")}`;
  assert.equal(text, expected);
  assert.equal(toBinaryParse({ tokens: words, transitions: left }), expected);
  const back = parseBinaryParse(text);
  assert.deepEqual(back.tokens, words);
  assert.deepEqual(back.transitions, left);

  // Pre-order: the spine's internal nodes at depths 0 … n−2, then w0 and w1 at n−1, w_k at n−k.
  const lines = [
    ...Array.from({ length: N - 1 }, (_, d) => ({ depth: d, label: "┐" })),
    ...words.map((w, k) => ({ depth: k === 0 ? N - 1 : N - k, label: w })),
  ];
  checkDrawing(drawTree(words, left), lines);

  // Constituents: the prefixes 0:k for 2 ≤ k ≤ n−1 (the whole sentence is left out).
  const spans = constituents(left);
  assert.equal(spans.size, N - 2);
  for (let k = 2; k < N; k++) assert.ok(spans.has(`0:${k}`), `0:${k}`);
  assert.equal(bracketF1(left, left), 1);
  assert.deepEqual(branchingCounts(left), { left: N - 2, right: 0, nodes: N - 1 });
});

test("a 50,000-word right-branching chain: brackets, round trip, drawing, metrics", () => {
  validateTransitions(right, N);
  const text = bracketed(words, right);
  // ( w0 ( w1 ( … ( w_{n−2} w_{n−1} ) … ) ) ): every word but the last opens a node.
  const expected = `${words
    .slice(0, -1)
    .map((w) => `( ${w}`)
    .join(" ")} ${words[N - 1]}${" )".repeat(N - 1)}`;
  assert.equal(text, expected);
  const back = parseBinaryParse(text);
  assert.deepEqual(back.tokens, words);
  assert.deepEqual(back.transitions, right);

  // Pre-order: ┐ at depth k, then w_k at k+1, for k < n−1; the last word at n−1.
  const lines = words.flatMap((w, k) =>
    k < N - 1
      ? [
          { depth: k, label: "┐" },
          { depth: k + 1, label: w },
        ]
      : [{ depth: N - 1, label: w }],
  );
  checkDrawing(drawTree(words, right), lines);

  // Constituents: the suffixes k:n for 1 ≤ k ≤ n−2; none is shared with the left chain's.
  const spans = constituents(right);
  assert.equal(spans.size, N - 2);
  for (let k = 1; k <= N - 2; k++) assert.ok(spans.has(`${k}:${N}`), `${k}:${N}`);
  assert.equal(bracketF1(left, right), 0);
  assert.deepEqual(branchingCounts(right), { left: 0, right: N - 2, nodes: N - 1 });

  // Cropping the right chain to k words leaves k items on the stack, joined right to left.
  const cropped = cropSentence({ tokens: words, transitions: right }, 30_000);
  assert.deepEqual(cropped.transitions, branchingTransitions(30_000, "right"));
});

// ListOps, 6,666 operators deep: [OP_0 d_0 [OP_1 d_1 … [OP_last a b ] … ] ], 19,999 tokens.
const OPS = ["[MIN", "[MAX", "[MED", "[SM"] as const;
const LEVELS = 6_666;
const opAt = (k: number) => OPS[k % 4]!;
const digitAt = (k: number) => (7 * k + 3) % 10;
/** The two-argument operators, written out here independently of applyListOp. */
const TWO_ARGS: Record<(typeof OPS)[number], (a: number, b: number) => number> = {
  "[MIN": (a, b) => Math.min(a, b),
  "[MAX": (a, b) => Math.max(a, b),
  "[MED": (a, b) => Math.floor((a + b) / 2),
  "[SM": (a, b) => (a + b) % 10,
};

function deepListOps(): { expression: string; tokens: string[]; value: number } {
  const last = LEVELS - 1;
  let value = TWO_ARGS[opAt(last)](digitAt(last), digitAt(last + 1));
  let expression = `( ( ( ${opAt(last)} ${digitAt(last)} ) ${digitAt(last + 1)} ) ] )`;
  for (let k = last - 1; k >= 0; k--) {
    value = TWO_ARGS[opAt(k)](digitAt(k), value);
    expression = `( ( ( ${opAt(k)} ${digitAt(k)} ) ${expression} ) ] )`;
  }
  const tokens = [
    ...Array.from({ length: last }, (_, k) => [opAt(k), String(digitAt(k))]).flat(),
    opAt(last),
    String(digitAt(last)),
    String(digitAt(last + 1)),
    ...Array.from({ length: LEVELS }, () => "]"),
  ];
  return { expression, tokens, value };
}

let fx: Awaited<ReturnType<typeof fixtureDir>>;
before(async () => {
  fx = await fixtureDir();
});
after(async () => {
  await fx.cleanup();
});

test("a ~20,000-token ListOps expression nested 6,666 deep: reader, evaluators, formatter", async () => {
  const { expression, tokens, value } = deepListOps();
  assert.equal(tokens.length, 19_999);
  const file = await fx.write("deep.tsv", `${value}\t${expression}\n`);
  const read = await readListOps(file); // checks the label against the tree's value
  assert.equal(read.examples.length, 1);
  const { sentence, label } = read.examples[0]!;
  assert.equal(label, value);
  assert.deepEqual(sentence.tokens, tokens);
  assert.equal(evaluateListOps(sentence), value);
  assert.equal(evaluateListOpsTokens(tokens), value);
  assert.equal(listOpsDepth(tokens), LEVELS);
  assert.deepEqual(listOpsTransitions(tokens), sentence.transitions);

  assert.equal(bracketed(sentence.tokens, sentence.transitions!), expression);
  // The deepest word lies inside as many "(" as the tree is deep.
  let open = 0;
  let deepest = 0;
  for (const t of expression.split(" ")) {
    if (t === "(") deepest = Math.max(deepest, ++open);
    else if (t === ")") open--;
  }
  const drawn = drawTree(sentence.tokens, sentence.transitions!).split("\n");
  assert.equal(drawn.length, 2 * tokens.length - 1);
  assert.equal(Math.max(...drawn.map((line) => readLine(line).depth)), deepest);
  assert.deepEqual(
    drawn.map((line) => readLine(line).label).filter((l) => l !== "┐"),
    tokens,
  );
});

test("a ListOps list of 20,000 arguments: evaluated without spreading or copying the list", () => {
  const digits = Array.from({ length: 20_000 }, (_, k) => digitAt(k));
  const sum = digits.reduce((a, b) => a + b, 0);
  let expression = `( [SM ${digits[0]} )`;
  for (const d of digits.slice(1)) expression = `( ${expression} ${d} )`;
  expression = `( ${expression} ] )`;
  const sentence = parseBinaryParse(expression);
  assert.equal(evaluateListOps(sentence), sum % 10);
  assert.equal(evaluateListOps({ ...sentence, tokens: ["[MAX", ...sentence.tokens.slice(1)] }), 9);
  assert.equal(evaluateListOpsTokens(["[MIN", ...digits.map(String), "]"]), 0);
});

test("the generator makes expressions of any nesting depth (one-argument chains, ~10,000 deep)", () => {
  // With one argument per list and operators almost always drawn, an expression is a chain
  // [OP [OP … d ] … ] whose value is its only digit, whatever the operators.
  const g = generateListOps({
    count: 3,
    seed: 2,
    minArgs: 1,
    maxArgs: 1,
    operatorProbability: 0.9999,
    maxDepth: 1_000_000,
    maxLength: 1_000_000,
  });
  g.lines.forEach((line, i) => {
    const { tokens, transitions } = parseBinaryParse(line.slice(line.indexOf("\t") + 1));
    const digits = tokens.filter((t) => /^\d$/.test(t));
    assert.equal(digits.length, 1);
    assert.equal(g.labels[i], Number(digits[0]));
    assert.equal(g.lengths[i], tokens.length);
    assert.equal(g.depths[i], (tokens.length - 1) / 2);
    validateTransitions(transitions!, tokens.length);
  });
  assert.ok(Math.max(...g.depths) > 5_000, `deepest ${Math.max(...g.depths)}`);
});
