// A seeded ListOps generator with the published settings (Nangia & Bowman 2018, the listops
// make_data.py in the nyu-mll/spinn repository), so that generated training data matches the
// distribution of the official test set (median 16 tokens, long tail to ~1000, depth up to 19).
//
// The published algorithm, reproduced here:
//   generate(depth): if depth < maxDepth and random() < 0.25, an operator node: 2–5 arguments
//   (uniform), each generate(depth + 1), and an operator chosen uniformly from MIN MAX MED SM;
//   otherwise a digit 0–9 (uniform). The root is generate(1), so operators nest at most
//   maxDepth − 1 deep. Examples are unique (the published script collects them in a set).
// The published script also produces bare digits as whole examples (the root is a value 75% of
// the time); its loader drops them, and so does the default minimum length here (2 tokens).
// Lengths are counted in tokens without brackets (operators, digits and "]"), the measure used
// for the published statistics.
//
// Uniqueness shapes the distribution: short expressions repeat, so the more examples are drawn,
// the more short ones are rejected. Measured with these defaults: 100,000 examples (the size of
// the published set) give median length 16, 90th percentile 106, 99th 391, mean 42.7, depth
// median 3 / 90th 11 / max 19, matching the published test set; 10,000 examples give median 13,
// 90th percentile ~96. To match the published distribution, generate 100,000 and split.

import { applyListOp, LISTOPS_OPERATORS, type ListOpsExample, type ListOpsOperator } from "./listops.js";
import { Rng } from "./rng.js";
import { parseBinaryParse } from "./transitions.js";

export interface ListOpsGenerateOptions {
  /** Number of examples to produce. */
  count: number;
  /** Seed for the generator (default 0); or pass `rng` to continue an existing stream. */
  seed?: number;
  rng?: Rng;
  /** Maximum depth passed to the recursion (default 20: operators nest at most 19 deep). */
  maxDepth?: number;
  /** Arguments per operator (defaults 2 and 5). */
  minArgs?: number;
  maxArgs?: number;
  /** Probability that a node (above the maximum depth) is an operator (default 0.25). */
  operatorProbability?: number;
  /** Operators to draw from (default all four). */
  operators?: readonly ListOpsOperator[];
  /** Accepted length range in tokens without brackets, inclusive (defaults 2 and unlimited). */
  minLength?: number;
  maxLength?: number;
  /** Reject duplicates (default true). */
  unique?: boolean;
  /** Give up after this many draws (default 100·count + 10,000). */
  maxAttempts?: number;
}

export interface GeneratedListOps {
  /** `label<TAB>expression` lines without newlines, in generation order. */
  lines: string[];
  labels: number[];
  /** Token count (without brackets) and operator depth of each example. */
  lengths: number[];
  depths: number[];
  /** Draws made, and how many were rejected as duplicates or for their length. */
  attempts: number;
  duplicates: number;
  outOfRange: number;
}

type Node = number | { op: ListOpsOperator; args: Node[] };

/** Generates ListOps examples; throws if `count` unique examples in range cannot be found. */
export function generateListOps(options: ListOpsGenerateOptions): GeneratedListOps {
  const {
    count,
    maxDepth = 20,
    minArgs = 2,
    maxArgs = 5,
    operatorProbability = 0.25,
    operators = LISTOPS_OPERATORS,
    minLength = 2,
    maxLength = Number.POSITIVE_INFINITY,
    unique = true,
  } = options;
  checkInt("count", count, 0);
  checkInt("maxDepth", maxDepth, 1);
  checkInt("minArgs", minArgs, 1);
  checkInt("maxArgs", maxArgs, minArgs);
  checkInt("minLength", minLength, 1);
  if (maxLength !== Number.POSITIVE_INFINITY) checkInt("maxLength", maxLength, minLength);
  if (!(operatorProbability >= 0 && operatorProbability < 1)) {
    throw new RangeError(`operatorProbability must be in [0, 1), got ${operatorProbability}`);
  }
  if (operators.length === 0) throw new RangeError("operators must not be empty");
  const maxAttempts = options.maxAttempts ?? 100 * count + 10_000;
  const rng = options.rng ?? new Rng(options.seed ?? 0);

  // Tokens generated so far in the current draw: a draw is abandoned as soon as it is longer than
  // maxLength, so that rejecting long expressions costs little (the published tail is long).
  let budget = 0;
  const TOO_LONG = Symbol("too long");
  const generate = (depth: number): Node => {
    if (depth < maxDepth && rng.next() < operatorProbability) {
      const n = minArgs + rng.int(maxArgs - minArgs + 1);
      budget += 2; // the operator and "]"
      if (budget > maxLength) throw TOO_LONG;
      const args: Node[] = [];
      for (let i = 0; i < n; i++) args.push(generate(depth + 1));
      return { op: operators[rng.int(operators.length)]!, args };
    }
    if (++budget > maxLength) throw TOO_LONG;
    return rng.int(10);
  };

  const out: GeneratedListOps = {
    lines: [],
    labels: [],
    lengths: [],
    depths: [],
    attempts: 0,
    duplicates: 0,
    outOfRange: 0,
  };
  const seen = new Set<string>();
  while (out.lines.length < count) {
    if (out.attempts >= maxAttempts) {
      throw new Error(
        `ListOps generator: only ${out.lines.length} of ${count} examples after ${out.attempts} draws ` +
          `(${out.duplicates} duplicates, ${out.outOfRange} outside the length range ${minLength}–${maxLength}); ` +
          "widen the length range or ask for fewer examples",
      );
    }
    out.attempts++;
    budget = 0;
    let tree: Node;
    try {
      tree = generate(1);
    } catch (err) {
      if (err !== TOO_LONG) throw err;
      out.outOfRange++;
      continue;
    }
    const length = tokenCount(tree);
    if (length < minLength || length > maxLength) {
      out.outOfRange++;
      continue;
    }
    const expression = toBracketString(tree);
    if (unique) {
      if (seen.has(expression)) {
        out.duplicates++;
        continue;
      }
      seen.add(expression);
    }
    const label = evaluateNode(tree);
    out.lines.push(`${label}\t${expression}`);
    out.labels.push(label);
    out.lengths.push(length);
    out.depths.push(depthOf(tree));
  }
  return out;
}

/** Turns generated lines into examples (ids "0", "1", … in order; `file` names the source). */
export function generatedExamples(generated: GeneratedListOps, file = "<generated>"): ListOpsExample[] {
  return generated.lines.map((line, i) => ({
    id: String(i),
    label: generated.labels[i]!,
    sentence: parseBinaryParse(line.slice(line.indexOf("\t") + 1)),
    source: { file, line: i + 1 },
  }));
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

function tokenCount(node: Node): number {
  if (typeof node === "number") return 1;
  let n = 2; // the operator and "]"
  for (const a of node.args) n += tokenCount(a);
  return n;
}

function depthOf(node: Node): number {
  if (typeof node === "number") return 0;
  let d = 0;
  for (const a of node.args) d = Math.max(d, depthOf(a));
  return d + 1;
}

function evaluateNode(node: Node): number {
  if (typeof node === "number") return node;
  return applyListOp(
    node.op,
    node.args.map((a) => evaluateNode(a)),
  );
}

/** The published binarization: ( ( ( OP a1 ) a2 ) ... ] ). */
function toBracketString(node: Node): string {
  if (typeof node === "number") return String(node);
  let s = `( ${node.op} ${toBracketString(node.args[0]!)} )`;
  for (let i = 1; i < node.args.length; i++) s = `( ${s} ${toBracketString(node.args[i]!)} )`;
  return `( ${s} ] )`;
}
