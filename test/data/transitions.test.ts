import assert from "node:assert/strict";
import { test } from "node:test";
import {
  branchingTransitions,
  cropSentence,
  parseBinaryParse,
  REDUCE,
  SHIFT,
  toBinaryParse,
  validateTransitions,
} from "../../src/data/transitions.js";

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
