// Per-example output shared by `spinn eval --report` and `spinn predict`: label, probabilities by
// class name, and the tree(s) the model used, as bracketed strings.
import type { ParsedSentence } from "../data/transitions.js";
import { bracketed } from "../data/tree-format.js";
import type { Predictions } from "./evaluate.js";
import { type Example, sidesOf } from "./task.js";

export function treeOf(s: ParsedSentence): string | null {
  return s.transitions ? bracketed(s.tokens, s.transitions) : null;
}

export function probabilitiesOf(
  p: Predictions,
  i: number,
  labels: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  labels.forEach((label, c) => {
    out[label] = +p.probabilities[i * p.classes + c]!.toFixed(6);
  });
  return out;
}

export function treesOf(ex: Example): Record<string, string | null> {
  return Object.fromEntries(sidesOf(ex).map(([role, s]) => [role, treeOf(s)]));
}
