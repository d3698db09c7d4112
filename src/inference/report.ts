// Per-example output shared by `spinn eval --report` and `spinn predict`: label, probabilities by
// class name, and the tree(s) the model used, as bracketed strings.
import type { ParsedSentence } from "../data/transitions.js";
import { bracketed } from "../data/tree-format.js";
import { branchingCounts, meanBracketF1, type TreeAgreement } from "../data/tree-metrics.js";
import { type Example, sidesOf, type TaskData } from "../tasks/task.js";
import type { Predictions } from "./evaluate.js";

export function treeOf(s: ParsedSentence): string | null {
  return s.transitions ? bracketed(s.tokens, s.transitions) : null;
}

/** Example i's probability of each class, by class name, to 6 decimals. */
export function probabilitiesOf(
  p: Predictions,
  i: number,
  labels: readonly string[],
): Record<string, number> {
  return probabilitiesByClass(p.probabilities.subarray(i * p.classes, (i + 1) * p.classes), labels);
}

/** One example's probabilities (a row of `labels.length`), by class name, to 6 decimals. */
export function probabilitiesByClass(
  row: ArrayLike<number>,
  labels: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  labels.forEach((label, c) => {
    out[label] = +row[c]!.toFixed(6);
  });
  return out;
}

export function treesOf(ex: Example): Record<string, string | null> {
  return Object.fromEntries(sidesOf(ex).map(([role, s]) => [role, treeOf(s)]));
}

export interface TreeReport {
  /** Mean sentence-level unlabeled F1 of the trees used against the data's parses (null: no parses). */
  f1VsGold: number | null;
  sentencesCompared: number;
  /** Share of transitions (SHIFT/REDUCE, position by position) that equal the parses'. */
  transitionAccuracy: number | null;
  /** Shares of internal nodes of the trees used that branch left / right. */
  leftBranching: number;
  rightBranching: number;
}

/** How the trees a model used compare with the data's own parses, and how they branch. */
export function treeReport(given: TaskData, used: TaskData): TreeReport {
  const gold: (Uint8Array | null)[] = [];
  const mine: (Uint8Array | null)[] = [];
  const counts = { left: 0, right: 0, nodes: 0 };
  let same = 0;
  let compared = 0;
  given.examples.forEach((ex, i) => {
    const usedSides = sidesOf(used.examples[i]!);
    sidesOf(ex).forEach(([, s], k) => {
      const u = usedSides[k]![1].transitions;
      gold.push(s.transitions);
      mine.push(u);
      if (u && s.transitions && u.length === s.transitions.length) {
        for (let k = 0; k < u.length; k++) if (u[k] === s.transitions[k]) same++;
        compared += u.length;
      }
      if (u) branchingCounts(u, counts);
    });
  });
  const agreement = meanBracketF1(mine, gold);
  return {
    f1VsGold: agreement.f1,
    sentencesCompared: agreement.sentences,
    transitionAccuracy: compared ? same / compared : null,
    leftBranching: counts.nodes ? counts.left / counts.nodes : 0,
    rightBranching: counts.nodes ? counts.right / counts.nodes : 0,
  };
}

export function formatTreeReport(t: TreeReport, mode: string): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const f1 =
    t.f1VsGold === null ? "no parses to compare" : `${pct(t.f1VsGold)} over ${t.sentencesCompared} sentences`;
  const acc =
    t.transitionAccuracy === null ? "" : `; transitions equal to the parses' ${pct(t.transitionAccuracy)}`;
  return `trees (${mode}): unlabeled F1 against the data's parses ${f1}${acc}; nodes branching left ${pct(t.leftBranching)}, right ${pct(t.rightBranching)}`;
}

/** Agreement between the trees two models used on the same data (self-agreement of two runs). */
export function treeAgreement(a: TaskData, b: TaskData): TreeAgreement {
  const trees = (d: TaskData) => d.examples.flatMap((ex) => sidesOf(ex).map(([, s]) => s.transitions));
  return meanBracketF1(trees(a), trees(b));
}
