import assert from "node:assert/strict";
import { test } from "node:test";
import { branchingTransitions, parseBinaryParse } from "../../src/data/transitions.js";
import { bracketF1, branchingCounts, constituents, meanBracketF1 } from "../../src/data/tree-metrics.js";

const t = (parse: string) => parseBinaryParse(parse).transitions!;

test("constituents leave out words and the whole sentence", () => {
  assert.deepEqual([...constituents(t("( ( a b ) ( c d ) )"))].sort(), ["0:2", "2:4"]);
  assert.deepEqual([...constituents(t("( a b )"))], []);
});

test("bracketing F1 by hand", () => {
  // ((a b) (c d)) vs (((a b) c) d): spans {0:2, 2:4} vs {0:2, 0:3} share one: P = R = 1/2
  assert.equal(bracketF1(t("( ( a b ) ( c d ) )"), t("( ( ( a b ) c ) d )")), 0.5);
  assert.equal(bracketF1(t("( ( a b ) c )"), t("( ( a b ) c )")), 1);
  assert.equal(bracketF1(t("( ( a b ) c )"), t("( a ( b c ) )")), 0);
  assert.equal(bracketF1(t("( a b )"), t("( a b )")), null);
  const m = meanBracketF1(
    [t("( ( a b ) ( c d ) )"), t("( a b )"), null],
    [t("( ( ( a b ) c ) d )"), t("( a b )"), t("( a b )")],
  );
  assert.deepEqual(m, { f1: 0.5, sentences: 1 });
});

test("branching shares of the fixed trees", () => {
  assert.deepEqual(branchingCounts(branchingTransitions(5, "left")), { left: 3, right: 0, nodes: 4 });
  assert.deepEqual(branchingCounts(branchingTransitions(5, "right")), { left: 0, right: 3, nodes: 4 });
  // balanced over 4 words: ((a b) (c d)): the root has two internal children
  assert.deepEqual(branchingCounts(branchingTransitions(4, "balanced")), { left: 0, right: 0, nodes: 3 });
  assert.deepEqual([...constituents(branchingTransitions(4, "balanced"))].sort(), ["0:2", "2:4"]);
});
