// Comparing trees: unlabeled bracketing F1 (how many constituents two trees share) and the share
// of left- and right-branching nodes, for learned, fixed and gold trees alike.
import { foldTree } from "./transitions.js";

/**
 * The constituents of a tree as "start:end" word spans (end exclusive), leaving out single words
 * and the whole sentence, which every tree has (the usual unlabeled-F1 convention).
 */
export function constituents(transitions: ArrayLike<number>): Set<string> {
  const spans = new Set<string>();
  // A subtree's value is its first word; it ends at the last word shifted when it is built.
  let words = 0;
  foldTree<number>(transitions, {
    leaf: (word) => {
      words = word + 1;
      return word;
    },
    node: (start) => {
      spans.add(`${start}:${words}`);
      return start;
    },
  });
  spans.delete(`0:${words}`);
  return spans;
}

/** Unlabeled F1 between two trees over the same words, or null when neither has a constituent to compare. */
export function bracketF1(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  const sa = constituents(a);
  const sb = constituents(b);
  if (sa.size === 0 && sb.size === 0) return null;
  let shared = 0;
  for (const s of sa) if (sb.has(s)) shared++;
  if (shared === 0) return 0;
  const precision = shared / sa.size;
  const recall = shared / sb.size;
  return (2 * precision * recall) / (precision + recall);
}

export interface BranchingCounts {
  /** Internal nodes whose only internal child is on the left: ((a b) c). */
  left: number;
  /** Internal nodes whose only internal child is on the right: (a (b c)). */
  right: number;
  /** All internal nodes. */
  nodes: number;
}

export function branchingCounts(
  transitions: ArrayLike<number>,
  into: BranchingCounts = { left: 0, right: 0, nodes: 0 },
): BranchingCounts {
  // A subtree's value: whether it is internal (not a single word).
  foldTree<boolean>(transitions, {
    leaf: () => false,
    node: (left, right) => {
      into.nodes++;
      if (left && !right) into.left++;
      if (right && !left) into.right++;
      return true;
    },
  });
  return into;
}

export interface TreeAgreement {
  /** Mean sentence-level F1 over sentences that have constituents to compare. */
  f1: number | null;
  sentences: number;
}

/** Mean sentence-level unlabeled F1 between two tree lists (pairs where one is missing are skipped). */
export function meanBracketF1(
  a: readonly (ArrayLike<number> | null)[],
  b: readonly (ArrayLike<number> | null)[],
): TreeAgreement {
  let sum = 0;
  let n = 0;
  a.forEach((t, i) => {
    const u = b[i];
    if (!t || !u) return;
    const f = bracketF1(t, u);
    if (f === null) return;
    sum += f;
    n++;
  });
  return { f1: n ? sum / n : null, sentences: n };
}
