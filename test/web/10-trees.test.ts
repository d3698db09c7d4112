// The page's tree module (src/web/trees.ts): bracketed trees as the API writes them read back
// into one leaf per token and one composition per REDUCE, their spans, and the spans two trees
// share — against hand-computed examples and against a stack simulation of random transitions.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Rng } from "../../src/data/rng.js";
import { REDUCE, randomTransitions, SHIFT } from "../../src/data/transitions.js";
import { bracketed } from "../../src/data/tree-format.js";
import { nodesOf, parseBracketed, sharedSpans, spanKey, treeDepth } from "../../src/web/trees.js";

/** The spans of a transition sequence's compositions, by simulating the stack here. */
function spansOfTransitions(transitions: ArrayLike<number>): string[] {
  const stack: [number, number][] = [];
  const spans: string[] = [];
  let next = 0;
  for (const t of Array.from(transitions)) {
    if (t === SHIFT) stack.push([next, next++]);
    else {
      const right = stack.pop()!;
      const left = stack.pop()!;
      stack.push([left[0], right[1]]);
      spans.push(`${left[0]}-${right[1]}`);
    }
  }
  return spans.sort();
}

describe("bracketed trees", () => {
  test("an NLI tree: one leaf per token, one composition per REDUCE, spans by hand", () => {
    const root = parseBracketed("( ( A dog ) ( runs . ) )");
    const nodes = nodesOf(root);
    assert.deepEqual(
      nodes.filter((n) => n.word !== null).map((n) => n.word),
      ["A", "dog", "runs", "."],
    );
    assert.deepEqual(nodes.filter((n) => n.word === null).map(spanKey), ["0-3", "0-1", "2-3"]);
    assert.equal(treeDepth(root), 2);
  });

  test("a ListOps tree as raw-input returns it, and a single word", () => {
    const root = parseBracketed("( ( ( [MAX 2 ) 9 ) ] )");
    assert.deepEqual(
      nodesOf(root)
        .filter((n) => n.word !== null)
        .map((n) => n.word),
      ["[MAX", "2", "9", "]"],
    );
    assert.equal(treeDepth(root), 3);
    const leaf = parseBracketed("9");
    assert.deepEqual([leaf.word, leaf.children.length, treeDepth(leaf)], ["9", 0, 0]);
  });

  test("random trees: tokens and transitions round-trip through bracketed()", () => {
    const rng = new Rng(11);
    for (let n = 1; n <= 40; n++) {
      const tokens = Array.from({ length: n }, (_, i) => `w${i}`);
      const transitions = randomTransitions(n, rng);
      const root = parseBracketed(bracketed(tokens, transitions));
      const nodes = nodesOf(root);
      const reduces = Array.from(transitions).filter((t) => t === REDUCE).length;
      assert.deepEqual(
        nodes.filter((x) => x.word !== null).map((x) => x.word),
        tokens,
      );
      assert.equal(nodes.filter((x) => x.word === null).length, reduces);
      assert.deepEqual(
        nodes
          .filter((x) => x.word === null)
          .map(spanKey)
          .sort(),
        spansOfTransitions(transitions),
      );
    }
  });

  test("malformed trees are errors saying where", () => {
    assert.throws(() => parseBracketed("( a b c )"), /token 5: a composition of 3 children, not 2/);
    assert.throws(() => parseBracketed("( a b"), /1 "\(" left open/);
    assert.throws(() => parseBracketed("a b )"), /token 3: "\)" closes nothing/);
    assert.throws(() => parseBracketed("a b"), /2 trees side by side/);
    assert.throws(() => parseBracketed("  "), /empty tree/);
  });
});

describe("shared constituents", () => {
  test("by hand: left-branching against balanced", () => {
    const balanced = parseBracketed("( ( A dog ) ( runs . ) )");
    const left = parseBracketed("( ( ( A dog ) runs ) . )");
    assert.deepEqual([...sharedSpans(balanced, left)].sort(), ["0-1", "0-3"]);
    assert.deepEqual([...sharedSpans(left, balanced)].sort(), ["0-1", "0-3"]);
    assert.deepEqual([...sharedSpans(left, left)].sort(), ["0-1", "0-2", "0-3"]);
  });

  test("random pairs: the intersection of the transition sequences' spans", () => {
    const rng = new Rng(5);
    for (let n = 2; n <= 30; n++) {
      const tokens = Array.from({ length: n }, (_, i) => `w${i}`);
      const [a, b] = [randomTransitions(n, rng), randomTransitions(n, rng)];
      const inB = new Set(spansOfTransitions(b));
      const expected = spansOfTransitions(a).filter((s) => inB.has(s));
      const shared = sharedSpans(parseBracketed(bracketed(tokens, a)), parseBracketed(bracketed(tokens, b)));
      assert.deepEqual([...shared].sort(), expected);
    }
  });
});
