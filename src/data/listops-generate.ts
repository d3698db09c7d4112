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

import {
  evaluateListOpsTokens,
  LISTOPS_END,
  LISTOPS_OPERATORS,
  type ListOpsExample,
  type ListOpsOperator,
  listOpsDepth,
  listOpsTransitions,
} from "./listops.js";
import { Rng } from "./rng.js";
import { parseBinaryParse, toBinaryParse } from "./transitions.js";

export interface ListOpsGenerateOptions {
  /** Number of examples to produce. */
  count: number;
  /** Seed for the generator (default 0); or pass `rng` to continue an existing stream. */
  seed?: number;
  rng?: Rng;
  /** Maximum node depth, the root being 1 (default 20: operators nest at most 19 deep). */
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

type Settings = Required<
  Pick<
    ListOpsGenerateOptions,
    | "count"
    | "maxDepth"
    | "minArgs"
    | "maxArgs"
    | "operatorProbability"
    | "operators"
    | "minLength"
    | "maxLength"
  >
>;

/** The options with their published defaults, checked. */
function settingsOf(options: ListOpsGenerateOptions): Settings {
  const s: Settings = {
    count: options.count,
    maxDepth: options.maxDepth ?? 20,
    minArgs: options.minArgs ?? 2,
    maxArgs: options.maxArgs ?? 5,
    operatorProbability: options.operatorProbability ?? 0.25,
    operators: options.operators ?? LISTOPS_OPERATORS,
    minLength: options.minLength ?? 2,
    maxLength: options.maxLength ?? Number.POSITIVE_INFINITY,
  };
  checkInt("count", s.count, 0);
  checkInt("maxDepth", s.maxDepth, 1);
  checkInt("minArgs", s.minArgs, 1);
  checkInt("maxArgs", s.maxArgs, s.minArgs);
  checkInt("minLength", s.minLength, 1);
  if (s.maxLength !== Number.POSITIVE_INFINITY) checkInt("maxLength", s.maxLength, s.minLength);
  if (!(s.operatorProbability >= 0 && s.operatorProbability < 1)) {
    throw new RangeError(`operatorProbability must be in [0, 1), got ${s.operatorProbability}`);
  }
  if (s.operators.length === 0) throw new RangeError("operators must not be empty");
  return s;
}

/**
 * One expression's prefix tokens, or null as soon as it is longer than maxLength (so that
 * rejecting long expressions costs little: the published tail is long). The published recursion,
 * with its lists still open kept on an explicit stack (any maxDepth works) and the same draws in
 * the same order: per node the operator test, then the argument count; a list's operator is drawn
 * once all its arguments are.
 */
function drawTokens(rng: Rng, s: Settings): string[] | null {
  const tokens: string[] = [];
  const open: { operatorAt: number; argsLeft: number }[] = [];
  let budget = 0;
  for (;;) {
    const depth = open.length + 1;
    if (depth < s.maxDepth && rng.next() < s.operatorProbability) {
      const n = s.minArgs + rng.int(s.maxArgs - s.minArgs + 1);
      budget += 2; // the operator and "]"
      if (budget > s.maxLength) return null;
      open.push({ operatorAt: tokens.push("") - 1, argsLeft: n });
      continue;
    }
    if (++budget > s.maxLength) return null;
    tokens.push(String(rng.int(10)));
    // A finished value counts as an argument of the innermost list; a list with all its
    // arguments is finished in turn.
    for (let list = open.at(-1); list !== undefined && --list.argsLeft === 0; list = open.at(-1)) {
      open.pop();
      tokens[list.operatorAt] = s.operators[rng.int(s.operators.length)]!;
      tokens.push(LISTOPS_END);
    }
    if (open.length === 0) return tokens;
  }
}

/** Generates ListOps examples; throws if `count` unique examples in range cannot be found. */
export function generateListOps(options: ListOpsGenerateOptions): GeneratedListOps {
  const settings = settingsOf(options);
  const { count, minLength, maxLength } = settings;
  const unique = options.unique ?? true;
  const maxAttempts = options.maxAttempts ?? 100 * count + 10_000;
  const rng = options.rng ?? new Rng(options.seed ?? 0);

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
    const tokens = drawTokens(rng, settings);
    const length = tokens?.length ?? 0;
    if (!tokens || length < minLength || length > maxLength) {
      out.outOfRange++;
      continue;
    }
    const expression = toBinaryParse({ tokens, transitions: listOpsTransitions(tokens) });
    if (unique) {
      if (seen.has(expression)) {
        out.duplicates++;
        continue;
      }
      seen.add(expression);
    }
    const label = evaluateListOpsTokens(tokens);
    out.lines.push(`${label}\t${expression}`);
    out.labels.push(label);
    out.lengths.push(length);
    out.depths.push(listOpsDepth(tokens));
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
