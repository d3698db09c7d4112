import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/data/rng.js";
import {
  branchingTransitions,
  cropSentence,
  foldStack,
  foldTree,
  parseBinaryParse,
  REDUCE,
  randomTransitions,
  SHIFT,
  toBinaryParse,
  validateTransitions,
} from "../../src/data/transitions.js";
import { drawTree } from "../../src/data/tree-format.js";

const S = SHIFT;
const R = REDUCE;

test("a binary parse gives tokens and SHIFT/REDUCE transitions", () => {
  const p = parseBinaryParse("( ( The church ) ( ( has ( cracks ( in ( the ceiling ) ) ) ) . ) )");
  assert.deepEqual(p.tokens, ["The", "church", "has", "cracks", "in", "the", "ceiling", "."]);
  assert.deepEqual([...p.transitions!], [S, S, R, S, S, S, S, S, R, R, R, R, S, R, R]);
  assert.equal(p.transitions!.length, 2 * p.tokens.length - 1);
});

test("a single word is one SHIFT; extra whitespace is ignored", () => {
  assert.deepEqual(parseBinaryParse("Outside"), { tokens: ["Outside"], transitions: Uint8Array.of(S) });
  assert.deepEqual([...parseBinaryParse("  (  a\tb )  ").transitions!], [S, S, R]);
});

test("ListOps: ']' is a word, only '(' and ')' are structure", () => {
  const p = parseBinaryParse("( ( ( [MAX 2 ) 9 ) ] )");
  assert.deepEqual(p.tokens, ["[MAX", "2", "9", "]"]);
  assert.deepEqual([...p.transitions!], [S, S, R, S, R, S, R]);
});

test("parse errors have the expected messages", () => {
  const cases: [string, string][] = [
    ["", "empty sentence (no words)"],
    ["( )", "empty sentence (no words)"],
    ["( ( ) )", "empty sentence (no words)"],
    ["( a b ) )", "unbalanced brackets: ')' without a matching '(' (token 5)"],
    ["( ( a b )", "unbalanced brackets: 1 '(' not closed"],
    ["( ( a ) b )", "REDUCE with fewer than two items on the stack (token 4)"],
    ["( a b ) c", "tree does not end with one item (2 items left on the stack)"],
    ["a b c", "tree does not end with one item (3 items left on the stack)"],
  ];
  for (const [parse, message] of cases) {
    assert.throws(() => parseBinaryParse(parse), { name: "FormatError", message }, parse);
  }
});

test("validateTransitions accepts trees and names the failing step", () => {
  validateTransitions([S, S, R], 2);
  assert.throws(
    () => validateTransitions([S, R], 1),
    /REDUCE with fewer than two items on the stack \(step 2\)/,
  );
  assert.throws(() => validateTransitions([S, S, S, R], 3), /tree does not end with one item/);
  assert.throws(() => validateTransitions([S, S, R, S], 2), /SHIFT with an empty buffer \(step 4\)/);
  assert.throws(() => validateTransitions([S], 2), /1 words never shifted/);
  assert.throws(() => validateTransitions([S, 7, R], 2), /unknown transition 7 \(step 2\)/);
  assert.throws(() => validateTransitions([], 0), /empty sentence/);
});

test("toBinaryParse inverts parseBinaryParse", () => {
  const text = "( ( The church ) ( ( has ( cracks ( in ( the ceiling ) ) ) ) . ) )";
  assert.equal(toBinaryParse(parseBinaryParse(text)), text);
  assert.equal(toBinaryParse({ tokens: ["raw", "text"], transitions: null }), "raw text");
});

test("branching transitions are valid trees of the requested shape", () => {
  const tokens = ["a", "b", "c", "d"];
  assert.equal(
    toBinaryParse({ tokens, transitions: branchingTransitions(4, "left") }),
    "( ( ( a b ) c ) d )",
  );
  assert.equal(
    toBinaryParse({ tokens, transitions: branchingTransitions(4, "right") }),
    "( a ( b ( c d ) ) )",
  );
  assert.equal(
    toBinaryParse({ tokens, transitions: branchingTransitions(4, "balanced") }),
    "( ( a b ) ( c d ) )",
  );
  for (let n = 1; n < 20; n++) {
    for (const kind of ["left", "right", "balanced"] as const)
      validateTransitions(branchingTransitions(n, kind), n);
  }
});

test("cropping keeps the first words and a valid tree over them", () => {
  const s = parseBinaryParse("( ( The church ) ( ( has ( cracks ( in ( the ceiling ) ) ) ) . ) )");
  const c = cropSentence(s, 4);
  assert.deepEqual(c.tokens, ["The", "church", "has", "cracks"]);
  assert.equal(toBinaryParse(c), "( ( The church ) ( has cracks ) )");
  for (let n = 1; n <= s.tokens.length; n++) validateTransitions(cropSentence(s, n).transitions!, n);
  assert.equal(cropSentence(s, 100), s);
  assert.deepEqual(cropSentence({ tokens: ["a", "b", "c"], transitions: null }, 2), {
    tokens: ["a", "b"],
    transitions: null,
  });
});

test("foldTree computes bottom-up values and calls back in transition order", () => {
  // ( ( a b ) ( c ( d e ) ) ): height 3, 5 words, 4 internal nodes.
  const tree = parseBinaryParse("( ( a b ) ( c ( d e ) ) )").transitions!;
  const height = foldTree(tree, { leaf: () => 0, node: (l, r) => 1 + Math.max(l, r) });
  assert.equal(height, 3);
  const calls: string[] = [];
  const text = foldTree(tree, {
    leaf: (word, step) => {
      calls.push(`leaf ${word} @${step}`);
      return "abcde"[word]!;
    },
    node: (l, r, step) => {
      calls.push(`node ${l}${r} @${step}`);
      return `${l}${r}`;
    },
  });
  assert.equal(text, "abcde");
  assert.deepEqual(calls, [
    "leaf 0 @1",
    "leaf 1 @2",
    "node ab @3",
    "leaf 2 @4",
    "leaf 3 @5",
    "leaf 4 @6",
    "node de @7",
    "node cde @8",
    "node abcde @9",
  ]);
});

test("foldStack returns the subtrees built by a prefix, left to right", () => {
  const words = { leaf: (w: number) => "abcde"[w]!, node: (l: string, r: string) => `(${l}${r})` };
  assert.deepEqual(foldStack([S, S, R, S, S, S, R], words), ["(ab)", "c", "(de)"]);
  assert.deepEqual(foldStack([], words), []);
  assert.throws(() => foldStack([S, S, S], words, 2), {
    name: "FormatError",
    message: "SHIFT with an empty buffer (step 3)",
  });
});

test("foldTree's errors name the 1-based step, as validateTransitions's", () => {
  const count = { leaf: () => 1, node: (l: number, r: number) => l + r };
  const cases: [number[], number | undefined, string][] = [
    [[S, R], undefined, "REDUCE with fewer than two items on the stack (step 2)"],
    [[S, S, 2, R], undefined, "unknown transition 2 (step 3)"],
    [[S, S], undefined, "tree does not end with one item (2 items left on the stack)"],
    [[], undefined, "empty sentence (no words)"],
    [[S, S, R], 3, "1 words never shifted"],
    [[S], 0, "empty sentence (no words)"],
  ];
  for (const [transitions, numTokens, message] of cases) {
    assert.throws(() => foldTree(transitions, count, numTokens), { name: "FormatError", message });
  }
  assert.equal(foldTree([S, S, R, S, R], count, 3), 3);
});

test("toBinaryParse rejects transitions that are not a tree over the tokens", () => {
  assert.throws(() => toBinaryParse({ tokens: ["a", "b"], transitions: Uint8Array.of(S, R) }), {
    name: "FormatError",
    message: "REDUCE with fewer than two items on the stack (step 2)",
  });
  assert.throws(() => toBinaryParse({ tokens: ["a"], transitions: Uint8Array.of(S, S, R) }), {
    name: "FormatError",
    message: "SHIFT with an empty buffer (step 2)",
  });
});

test("randomTransitions draws only where both moves are possible (the reference's random_tree)", () => {
  // Scripted draws (below 0.5 shifts, else reduces); every draw must be used, none more.
  const run = (n: number, draws: number[]): number[] => {
    const out = randomTransitions(n, {
      next: () => {
        const d = draws.shift();
        assert.ok(d !== undefined, "drew more than expected");
        return d;
      },
    });
    assert.deepEqual(draws, [], "left draws unused");
    return [...out];
  };
  // 3 words: only step 3 has a choice (two items on the stack, a word left).
  assert.deepEqual(run(3, [0.7]), [S, S, R, S, R]);
  assert.deepEqual(run(3, [0.2]), [S, S, S, R, R]);
  assert.deepEqual(run(1, []), [S]);
  // 4 words: choices at step 3 (0.9: reduce) and step 5 (0.1: shift); then no word is left.
  assert.deepEqual(run(4, [0.9, 0.1]), [S, S, R, S, S, R, R]);
  const rng = new Rng(5);
  for (let n = 1; n <= 60; n++) validateTransitions(randomTransitions(n, rng), n);
  assert.throws(() => randomTransitions(0, rng), RangeError);
});

test("drawTree draws children under their parent", () => {
  const { tokens, transitions } = parseBinaryParse("( ( The church ) has )");
  assert.equal(
    drawTree(tokens, transitions!),
    ["┐", "├─ ┐", "│  ├─ The", "│  └─ church", "└─ has"].join("\n"),
  );
  const right = parseBinaryParse("( a ( b c ) )");
  assert.equal(
    drawTree(right.tokens, right.transitions!),
    ["┐", "├─ a", "└─ ┐", "   ├─ b", "   └─ c"].join("\n"),
  );
  assert.equal(drawTree(["alone"], [S]), "alone");
});
