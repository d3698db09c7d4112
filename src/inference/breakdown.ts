// Accuracy (and the trees' F1 against the data's parses) broken down by sentence length and, for
// ListOps, by nesting depth and by outermost operator: where a model's errors concentrate.
// ListOps is built to test length generalisation (the published test set runs to ~1,000 tokens),
// so an overall accuracy hides exactly what matters; and a tree shape can suit one operator and
// not another (a sum modulo 10 composed last, after its arguments, is harder to carry).
import { exampleLength } from "../data/batching.js";
import { LISTOPS_OPERATORS, listOpsDepth, listOpsOutermostOperator } from "../data/listops.js";
import { bracketF1 } from "../data/tree-metrics.js";
import { type Example, lengthKeys, sidesOf, type TaskData } from "../tasks/task.js";

/** The length bins, in tokens without brackets (ListOps: operators, digits and "]"), inclusive. */
export const LENGTH_BINS: readonly { bin: string; min: number; max: number }[] = [
  { bin: "<=20", min: 0, max: 20 },
  { bin: "21-40", min: 21, max: 40 },
  { bin: "41-100", min: 41, max: 100 },
  { bin: "101-200", min: 101, max: 200 },
  { bin: "201-500", min: 201, max: 500 },
  { bin: "501-1000", min: 501, max: 1000 },
  { bin: ">1000", min: 1001, max: Number.POSITIVE_INFINITY },
];

/** The bin label of a length. */
export function lengthBin(length: number): string {
  return LENGTH_BINS.find((b) => length <= b.max)!.bin;
}

export interface BreakdownRow {
  examples: number;
  correct: number;
  accuracy: number;
  /**
   * Mean sentence-level unlabeled F1 of the trees used against the data's parses over the row's
   * sentences that have constituents to compare (null: no trees, or nothing to compare).
   */
  treeF1: number | null;
}

export interface Breakdown {
  /** Non-empty length bins, shortest first. */
  byLength: ({ bin: string } & BreakdownRow)[];
  /** ListOps: operator nesting depth (1: one list), shallowest first; null for NLI. */
  byDepth: ({ depth: number } & BreakdownRow)[] | null;
  /** ListOps: the outermost operator (MIN, MAX, MED, SM; "digit" for a lone digit); null for NLI. */
  byOperator: ({ operator: string } & BreakdownRow)[] | null;
}

interface Tally {
  examples: number;
  correct: number;
  f1Sum: number;
  f1Count: number;
}

/**
 * The breakdown of one evaluation. `given` holds the examples with the data's parses, `used` the
 * same examples with the trees the model composed along (null: a model without trees), both in
 * the order of `predicted`.
 */
export function breakdown(given: TaskData, used: TaskData | null, predicted: ArrayLike<number>): Breakdown {
  const bins = new Map<string, Tally>();
  const depths = new Map<number, Tally>();
  const operators = new Map<string, Tally>();
  const listops = given.task === "listops";
  const lengths = lengthKeys(given);
  given.examples.forEach((ex, i) => {
    const f1s = used ? sentenceF1s(ex, used.examples[i]!) : [];
    const right = predicted[i] === ex.label;
    count(bins, lengthBin(exampleLength(lengths, i)), right, f1s);
    if (listops) {
      const tokens = sidesOf(ex)[0]![1].tokens;
      count(depths, listOpsDepth(tokens), right, f1s);
      count(operators, listOpsOutermostOperator(tokens) ?? "digit", right, f1s);
    }
  });
  const byLength = LENGTH_BINS.filter((b) => bins.has(b.bin)).map((b) => ({
    bin: b.bin,
    ...row(bins.get(b.bin)!),
  }));
  const byDepth = listops
    ? [...depths.keys()].sort((a, b) => a - b).map((depth) => ({ depth, ...row(depths.get(depth)!) }))
    : null;
  const byOperator = listops
    ? [...LISTOPS_OPERATORS.map((o) => o.slice(1)), "digit"]
        .filter((o) => operators.has(o))
        .map((operator) => ({ operator, ...row(operators.get(operator)!) }))
    : null;
  return { byLength, byDepth, byOperator };
}

/** F1 of each sentence's used tree against its parse, where both exist and there is something to compare. */
function sentenceF1s(given: Example, used: Example): number[] {
  const usedSides = sidesOf(used);
  const out: number[] = [];
  sidesOf(given).forEach(([, s], k) => {
    const u = usedSides[k]![1].transitions;
    if (!u || !s.transitions) return;
    const f = bracketF1(u, s.transitions);
    if (f !== null) out.push(f);
  });
  return out;
}

function count<K>(tallies: Map<K, Tally>, key: K, right: boolean, f1s: number[]): void {
  const t = tallies.get(key) ?? { examples: 0, correct: 0, f1Sum: 0, f1Count: 0 };
  tallies.set(key, t);
  t.examples++;
  if (right) t.correct++;
  for (const f of f1s) t.f1Sum += f;
  t.f1Count += f1s.length;
}

function row(t: Tally): BreakdownRow {
  return {
    examples: t.examples,
    correct: t.correct,
    accuracy: t.correct / t.examples,
    treeF1: t.f1Count ? t.f1Sum / t.f1Count : null,
  };
}

/** The breakdown as aligned text lines (the tree F1 column only when there are trees). */
export function formatBreakdown(b: Breakdown): string {
  const trees = b.byLength.some((r) => r.treeF1 !== null);
  const pct = (x: number | null, digits: number) => (x === null ? "n/a" : `${(100 * x).toFixed(digits)}%`);
  const line = (key: string, r: BreakdownRow) =>
    `  ${key.padEnd(9)} ${String(r.examples).padStart(8)} ${pct(r.accuracy, 2).padStart(9)}${trees ? pct(r.treeF1, 1).padStart(9) : ""}`;
  const header = (key: string) =>
    `  ${key.padEnd(9)} ${"examples".padStart(8)} ${"accuracy".padStart(9)}${trees ? "  tree F1" : ""}`;
  const lines = [
    "by length (tokens without brackets):",
    header("length"),
    ...b.byLength.map((r) => line(r.bin, r)),
  ];
  if (b.byDepth) {
    lines.push(
      "",
      "by nesting depth (operators):",
      header("depth"),
      ...b.byDepth.map((r) => line(String(r.depth), r)),
    );
  }
  if (b.byOperator) {
    lines.push(
      "",
      "by outermost operator:",
      header("operator"),
      ...b.byOperator.map((r) => line(r.operator, r)),
    );
  }
  return lines.join("\n");
}
