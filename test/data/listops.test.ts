import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DataError } from "../../src/data/errors.js";
import {
  applyListOp,
  evaluateListOps,
  evaluateListOpsTokens,
  listOpsDepth,
  listOpsTransitions,
  parseListOpsExpression,
  readListOps,
} from "../../src/data/listops.js";
import { generatedExamples, generateListOps } from "../../src/data/listops-generate.js";
import { Rng } from "../../src/data/rng.js";
import { summarizeLengths } from "../../src/data/stats.js";
import { parseBinaryParse, REDUCE, SHIFT } from "../../src/data/transitions.js";
import { fixtureDir, rejection } from "./helpers.js";

let fx: Awaited<ReturnType<typeof fixtureDir>>;
before(async () => {
  fx = await fixtureDir();
});
after(async () => {
  await fx.cleanup();
});

const value = (expr: string): number => evaluateListOps(parseBinaryParse(expr));

test("operators, hand-computed", () => {
  assert.equal(applyListOp("[MIN", [4, 2, 7]), 2);
  assert.equal(applyListOp("[MAX", [4, 2, 7]), 7);
  assert.equal(applyListOp("[MED", [4, 2, 7]), 4);
  assert.equal(applyListOp("[MED", [1, 2, 3, 8]), 2); // median 2.5, truncated
  assert.equal(applyListOp("[MED", [3, 8]), 5); // median 5.5, truncated
  assert.equal(applyListOp("[SM", [9, 8, 7]), 4); // 24 mod 10
  assert.equal(applyListOp("[SM", [5, 5]), 0);
});

test("binarized expressions, hand-computed", () => {
  assert.equal(value("( ( ( [MAX 2 ) 9 ) ] )"), 9);
  assert.equal(value("( ( ( ( ( [MAX 2 ) 9 ) 0 ) 7 ) ] )"), 9);
  // [SM [MIN 3 5 ] [MED 1 8 2 9 ] 9 ] = (3 + 5 + 9) mod 10 = 7   (MED 1 2 8 9 → 5)
  const sm = "( ( ( ( [SM ( ( ( [MIN 3 ) 5 ) ] ) ) ( ( ( ( ( [MED 1 ) 8 ) 2 ) 9 ) ] ) ) 9 ) ] )";
  assert.equal(value(sm), 7);
  assert.equal(evaluateListOpsTokens(parseBinaryParse(sm).tokens), 7);
  assert.equal(listOpsDepth(parseBinaryParse(sm).tokens), 2);
  // [MIN [MAX 1 [SM 6 7 ] ] 4 ] = min(max(1, 3), 4) = 3
  assert.equal(value("( ( ( [MIN ( ( ( [MAX 1 ) ( ( ( [SM 6 ) 7 ) ] ) ) ] ) ) 4 ) ] )"), 3);
  assert.equal(value("5"), 5);
  assert.equal(evaluateListOpsTokens(["[MED", "1", "[MAX", "2", "9", "]", "4", "]"]), 4);
});

test("malformed expressions are rejected", () => {
  assert.throws(
    () => value("( [MAX ( 2 9 ) )"),
    /not a binarized ListOps tree: cannot combine the value 2 with the value 9 \(step 4\)/,
  );
  assert.throws(() => value("( ( [MAX ] ) 2 )"), /cannot combine the operator \[MAX with '\]'/);
  assert.throws(() => value("( [MAX 2 )"), /does not reduce to a value \(ends with an open \[MAX list\)/);
  assert.throws(() => value("( ( ( [FOO 2 ) 9 ) ] )"), /unknown token "\[FOO" \(word 1\)/);
  assert.throws(() => evaluateListOpsTokens(["[MAX", "2"]), /expression ends early/);
  assert.throws(
    () => evaluateListOpsTokens(["[MAX", "2", "]", "3"]),
    /extra tokens after the expression \(token 4\)/,
  );
  assert.throws(() => evaluateListOpsTokens(["[MAX", "]"]), /\[MAX has no arguments/);
  // Flat prefix tokens carry their tree (the published binarization); malformed ones are refused.
  assert.deepEqual(parseListOpsExpression("[MAX 2 9 ]"), {
    tokens: ["[MAX", "2", "9", "]"],
    transitions: Uint8Array.of(SHIFT, SHIFT, REDUCE, SHIFT, REDUCE, SHIFT, REDUCE),
  });
  assert.throws(() => parseListOpsExpression("[MAX 2 9"), /expression ends early/);
});

test("reader: examples, and every error with file:line: field", async () => {
  const file = await fx.write("ok.tsv", "9\t( ( ( [MAX 2 ) 9 ) ] )\n\n2\t( ( ( [MIN 2 ) 9 ) ] )\n");
  const r = await readListOps(file);
  assert.equal(r.lines, 2);
  assert.deepEqual(
    r.examples.map((e) => [e.id, e.label, e.sentence.tokens.join(" "), e.source.line]),
    [
      ["line 1", 9, "[MAX 2 9 ]", 1],
      ["line 3", 2, "[MIN 2 9 ]", 3],
    ],
  );
  const cases: [string, string][] = [
    ["( ( ( [MAX 2 ) 9 ) ] )", "expected 'label<TAB>expression'"],
    ["x\t( ( ( [MAX 2 ) 9 ) ] )", 'label: expected a digit 0-9, got "x"'],
    ["12\t( ( ( [MAX 2 ) 9 ) ] )", 'label: expected a digit 0-9, got "12"'],
    ["3\t( ( ( [MAX 2 ) 9 ) ] )", "label: 3 does not match the expression's value 9"],
    ["9\t( ( ( [MAX 2 ) 9 ) ] ) )", "expression: unbalanced brackets: ')' without a matching '(' (token 11)"],
    ["9\t( ( ( [MAX 2 ) 9 ) ]", "expression: unbalanced brackets: 1 '(' not closed"],
    ["9\t( ( ( [MAX ) 9 ) ] )", "expression: REDUCE with fewer than two items on the stack (token 5)"],
    ["9\t", "expression: empty sentence (no words)"],
    ["9\t( ( [MAX 2 ) 9 ) ] )", "expression: unbalanced brackets: ')' without a matching '(' (token 9)"],
    ["9\t( ( [MAX 2 ) 9 ] )", "expression: tree does not end with one item (2 items left on the stack)"],
  ];
  for (const [line, message] of cases) {
    const bad = await fx.write("bad.tsv", `9\t( ( ( [MAX 2 ) 9 ) ] )\n${line}\n`);
    const err = await rejection(readListOps(bad));
    assert.ok(err instanceof DataError);
    assert.equal(err.message, `${bad}:2: ${message}`);
  }
  const lenientFile = await fx.write(
    "lenient.tsv",
    cases
      .map(([l]) => l)
      .concat("9\t( ( ( [MAX 2 ) 9 ) ] )")
      .join("\n"),
  );
  const lenient = await readListOps(lenientFile, { lenient: true });
  assert.equal(lenient.examples.length, 1);
  assert.equal(lenient.invalid.count, cases.length);
  const unchecked = await readListOps(await fx.write("unchecked.tsv", "3\t( ( ( [MAX 2 ) 9 ) ] )\n"), {
    verifyLabels: false,
  });
  assert.equal(unchecked.examples[0]!.label, 3);
});

test("generator: same seed, same data; labels agree with both evaluators on every example", () => {
  const a = generateListOps({ count: 3000, seed: 11 });
  const b = generateListOps({ count: 3000, seed: 11 });
  assert.deepEqual(a.lines, b.lines);
  assert.notDeepEqual(generateListOps({ count: 50, seed: 12 }).lines, a.lines.slice(0, 50));
  assert.equal(new Set(a.lines).size, 3000);
  const examples = generatedExamples(a);
  examples.forEach((ex, i) => {
    assert.equal(evaluateListOps(ex.sentence), ex.label, a.lines[i]);
    assert.equal(evaluateListOpsTokens(ex.sentence.tokens), ex.label, a.lines[i]);
    assert.equal(ex.sentence.tokens.length, a.lengths[i]);
    assert.equal(listOpsDepth(ex.sentence.tokens), a.depths[i]);
  });
});

test("generator: published settings give the published shape of data", () => {
  const g = generateListOps({ count: 5000, seed: 1 });
  const tokens = new Set(generatedExamples(g).flatMap((e) => e.sentence.tokens));
  assert.deepEqual([...tokens].sort(), [
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "[MAX",
    "[MED",
    "[MIN",
    "[SM",
    "]",
  ]);
  const lengths = summarizeLengths(g.lengths);
  const depths = summarizeLengths(g.depths);
  assert.ok(lengths.min >= 4, "no bare digits by default");
  assert.ok(lengths.p50 >= 10 && lengths.p50 <= 20, `median length ${lengths.p50}`);
  assert.ok(lengths.p90 >= 70 && lengths.p90 <= 140, `90th percentile ${lengths.p90}`);
  assert.ok(depths.max <= 19, `depth ${depths.max}`);
  const labelCounts = new Array(10).fill(0);
  for (const l of g.labels) labelCounts[l]++;
  for (const c of labelCounts) assert.ok(c > 350 && c < 650, `label counts ${labelCounts}`);
});

test("generator: length range, depth, arguments, and impossible requests", () => {
  const g = generateListOps({ count: 500, seed: 2, minLength: 10, maxLength: 30, maxDepth: 4, maxArgs: 3 });
  assert.ok(g.lengths.every((n) => n >= 10 && n <= 30));
  assert.ok(g.depths.every((d) => d <= 3));
  for (const ex of generatedExamples(g)) {
    for (const n of argumentCounts(ex.sentence.tokens))
      assert.ok(n >= 2 && n <= 3, ex.sentence.tokens.join(" "));
  }
  assert.throws(
    () => generateListOps({ count: 1000, seed: 0, maxLength: 4 }),
    /only \d+ of 1000 examples after \d+ draws/,
  );
  assert.throws(
    () => generateListOps({ count: 1, maxLength: 1, minLength: 2 }),
    /maxLength must be an integer >= 2/,
  );
  const rng = new Rng(5);
  const first = generateListOps({ count: 10, rng }).lines;
  const second = generateListOps({ count: 10, rng }).lines;
  assert.notDeepEqual(first, second);
});

/** Number of arguments of every operator in a prefix token sequence. */
function argumentCounts(tokens: readonly string[]): number[] {
  const counts: number[] = [];
  const open: number[] = [];
  for (const t of tokens) {
    if (open.length > 0 && t !== "]") open[open.length - 1]!++;
    if (t.startsWith("[")) open.push(0);
    else if (t === "]") counts.push(open.pop()!);
  }
  return counts;
}

test("listOpsTransitions binarizes prefix tokens as the published files do", () => {
  for (const expression of [
    "( ( ( [MAX 2 ) 9 ) ] )",
    "( ( ( ( [SM ( ( ( [MIN 3 ) 5 ) ] ) ) ( ( ( ( ( [MED 1 ) 8 ) 2 ) 9 ) ] ) ) 9 ) ] )",
    "( ( ( [MIN ( ( ( [MAX 1 ) ( ( ( [SM 6 ) 7 ) ] ) ) ] ) ) 4 ) ] )",
    "5",
  ]) {
    const { tokens, transitions } = parseBinaryParse(expression);
    assert.deepEqual(listOpsTransitions(tokens), transitions, expression);
  }
});
