// ListOps (Nangia & Bowman 2018): nested list operations over single digits, a sentence
// classification task whose gold trees are known exactly.
//
// File format (the published one): `label<TAB>expression`, one example per line, label 0–9.
// The expression is binarized in the same bracket notation as SNLI parses:
//   [MAX 2 9 ] → ( ( ( [MAX 2 ) 9 ) ] )
// i.e. the operator token is combined with its first argument, then each further argument is
// added on the right, and finally the closing "]" is added on the right. So the tokens (leaves)
// are the operator tokens "[MIN" "[MAX" "[MED" "[SM", the digits "0"–"9" and the closing "]":
// "]" is a word of the sentence (a SHIFT), not structure. Only "(" and ")" are structure.
// Transitions are then read exactly as for SNLI: "(" ignored, token SHIFT, ")" REDUCE.
//
// Operators: MIN, MAX, MED (median; for an even count the mean of the two middle values,
// truncated to an integer, as in the published generator's int(np.median(...))), SM (sum mod 10).

import { DataError, ErrorSink, FormatError, type SkippedLines } from "./errors.js";
import { readLineBatches } from "./lines.js";
import type { SourceLocation } from "./nli.js";
import {
  foldTree,
  type ParsedSentence,
  parseBinaryParse,
  REDUCE,
  SHIFT,
  validateTransitions,
} from "./transitions.js";

export const LISTOPS_OPERATORS = ["[MIN", "[MAX", "[MED", "[SM"] as const;
export type ListOpsOperator = (typeof LISTOPS_OPERATORS)[number];
export const LISTOPS_END = "]";
/** Number of classes: the value of an expression is a digit. */
export const LISTOPS_NUM_CLASSES = 10;

export interface ListOpsExample {
  /** "line N" for examples read from a file, "N" (0-based) for generated ones. */
  id: string;
  /** The value of the expression, 0–9. */
  label: number;
  sentence: ParsedSentence;
  source: SourceLocation;
  /** Training with --subtree-weight only: the values of its sub-lists (listOpsSubtreeValues). */
  subtrees?: SubtreeValues;
}

const OPERATOR_SET: ReadonlySet<string> = new Set(LISTOPS_OPERATORS);

/** True for the four operator tokens. */
export function isListOpsOperator(token: string): token is ListOpsOperator {
  return OPERATOR_SET.has(token);
}

/** Applies an operator to its argument values. */
export function applyListOp(op: ListOpsOperator, args: readonly number[]): number {
  if (args.length === 0) throw new FormatError(`${op} has no arguments`);
  switch (op) {
    // reduce, not Math.min(...args): spreading a very long argument list overflows the stack.
    case "[MIN":
      return args.reduce((a, b) => Math.min(a, b));
    case "[MAX":
      return args.reduce((a, b) => Math.max(a, b));
    case "[MED": {
      const sorted = [...args].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      // Values are non-negative, so truncation is Math.floor, as Python's int() of the median.
      return sorted.length % 2 === 1 ? sorted[mid]! : Math.floor((sorted[mid - 1]! + sorted[mid]!) / 2);
    }
    case "[SM":
      return args.reduce((a, b) => a + b, 0) % 10;
  }
}

function digitOf(token: string): number | null {
  return token.length === 1 && token >= "0" && token <= "9" ? token.charCodeAt(0) - 48 : null;
}

/**
 * The value of an expression given as its flat token sequence in prefix form, ignoring the tree
 * (e.g. ["[MAX", "2", "9", "]"] → 9). Throws {@link FormatError} for a malformed expression.
 * Lists still open are kept on an explicit stack, so any nesting depth works.
 */
export function evaluateListOpsTokens(tokens: readonly string[]): number {
  const open: { op: ListOpsOperator; args: number[] }[] = [];
  let pos = 0;
  for (;;) {
    const token = tokens[pos];
    if (token === undefined) throw new FormatError("expression ends early (missing value or ']')");
    pos++;
    let value = digitOf(token);
    if (value === null) {
      if (!isListOpsOperator(token))
        throw new FormatError(`unexpected token ${JSON.stringify(token)} (token ${pos})`);
      open.push({ op: token, args: [] });
    }
    // A value joins the innermost open list; each "]" that follows closes a list, whose value
    // joins the list around it in turn. A value with no list around it is the whole expression.
    for (;;) {
      if (value !== null) {
        const list = open.at(-1);
        if (list === undefined) {
          if (pos !== tokens.length)
            throw new FormatError(`extra tokens after the expression (token ${pos + 1})`);
          return value;
        }
        list.args.push(value);
      }
      if (tokens[pos] !== LISTOPS_END) break;
      pos++;
      const closed = open.pop()!;
      value = applyListOp(closed.op, closed.args);
    }
  }
}

/** A value on the evaluation stack: a digit, an operator still collecting arguments, or "]". */
type Item =
  | { kind: "value"; value: number }
  | { kind: "open"; op: ListOpsOperator; args: number[] }
  | { kind: "end" };

/**
 * The value of an expression by following its tree, the way a tree encoder sees it: every
 * REDUCE combines (operator or open list, value) into an open list and (open list, "]") into a
 * value. This also checks that the tree is the standard binarization: any other shape (e.g. a
 * value combined with a value) is a {@link FormatError}.
 */
export function evaluateListOps(sentence: ParsedSentence): number {
  const { tokens, transitions } = sentence;
  if (transitions === null) return evaluateListOpsTokens(tokens);
  // Checked first, so that a sequence that is no tree at all is reported as such.
  validateTransitions(transitions, tokens.length);
  const result = foldTree<Item>(transitions, {
    leaf: (word) => itemOf(tokens[word]!, word),
    node: (left, right, step) => combine(left, right, step),
  });
  if (result.kind !== "value")
    throw new FormatError(`expression does not reduce to a value (ends with ${describe(result)})`);
  return result.value;
}

/** Where each sub-list of an expression is closed, and its value. */
export interface SubtreeValues {
  /** Transition index (0-based) of the REDUCE that closes the list (its "]"), in transition order. */
  steps: Int32Array;
  values: Int32Array;
}

/**
 * The value of every list of a binarized expression that is not the whole expression, at the
 * REDUCE that closes it: what `--subtree-weight` supervises (the whole expression's value is the
 * label). Throws {@link FormatError} for a tree that is not the standard binarization.
 */
export function listOpsSubtreeValues(sentence: ParsedSentence): SubtreeValues {
  const { tokens, transitions } = sentence;
  if (transitions === null) throw new FormatError("no tree: sub-list values need the expression's tree");
  validateTransitions(transitions, tokens.length);
  const steps: number[] = [];
  const values: number[] = [];
  foldTree<Item>(transitions, {
    leaf: (word) => itemOf(tokens[word]!, word),
    node: (left, right, step) => {
      const item = combine(left, right, step);
      // step is 1-based; the last transition closes the whole expression.
      if (item.kind === "value" && step < transitions.length) {
        steps.push(step - 1);
        values.push(item.value);
      }
      return item;
    },
  });
  return { steps: Int32Array.from(steps), values: Int32Array.from(values) };
}

function itemOf(token: string, word: number): Item {
  const digit = digitOf(token);
  if (digit !== null) return { kind: "value", value: digit };
  if (isListOpsOperator(token)) return { kind: "open", op: token, args: [] };
  if (token === LISTOPS_END) return { kind: "end" };
  throw new FormatError(`unknown token ${JSON.stringify(token)} (word ${word + 1})`);
}

/** One REDUCE of the standard binarization: (list, value) → list, (list, "]") → value. */
function combine(left: Item, right: Item, step: number): Item {
  if (left.kind === "open" && right.kind === "value") {
    // The open list is used only here, so it can grow in place (copying would be quadratic).
    left.args.push(right.value);
    return left;
  }
  if (left.kind === "open" && right.kind === "end" && left.args.length > 0) {
    return { kind: "value", value: applyListOp(left.op, left.args) };
  }
  throw new FormatError(
    `not a binarized ListOps tree: cannot combine ${describe(left)} with ${describe(right)} (step ${step})`,
  );
}

function describe(item: Item): string {
  if (item.kind === "value") return `the value ${item.value}`;
  if (item.kind === "end") return "']'";
  return item.args.length === 0 ? `the operator ${item.op}` : `an open ${item.op} list`;
}

/** Operator nesting depth: 0 for a lone digit, 1 for [MAX 2 9 ], and so on. */
export function listOpsDepth(tokens: readonly string[]): number {
  let depth = 0;
  let max = 0;
  for (const t of tokens) {
    if (isListOpsOperator(t)) max = Math.max(max, ++depth);
    else if (t === LISTOPS_END) depth--;
  }
  return max;
}

/** The outermost operator without its bracket ("MAX" for [MAX 2 [MIN 1 ] ]), null for a lone digit. */
export function listOpsOutermostOperator(tokens: readonly string[]): string | null {
  const first = tokens.find(isListOpsOperator);
  return first === undefined ? null : first.slice(1);
}

/**
 * The published binarization of an expression given as flat prefix tokens, as transitions:
 * [MAX 2 9 ] → ( ( ( [MAX 2 ) 9 ) ] ). An operator is shifted and waits for its arguments; every
 * finished value (a digit, or a list closed by "]") is reduced into the list around it, if any.
 * The tokens must be a well-formed expression (see {@link evaluateListOpsTokens}).
 */
export function listOpsTransitions(tokens: readonly string[]): Uint8Array {
  const out = new Uint8Array(2 * tokens.length - 1);
  let k = 0;
  let open = 0;
  for (const token of tokens) {
    out[k++] = SHIFT;
    if (isListOpsOperator(token)) {
      open++;
      continue;
    }
    if (token === LISTOPS_END) {
      out[k++] = REDUCE; // ( list ] )
      open--;
    }
    if (open > 0) out[k++] = REDUCE; // the value joins its list
  }
  return out;
}

/**
 * Parses one expression: bracketed, as in the published files, or flat prefix tokens without
 * "(" / ")". A well-formed prefix expression determines its tree, so flat input gets the same
 * published binarization the brackets would give (listOpsTransitions); a malformed one is a
 * FormatError.
 */
export function parseListOpsExpression(expression: string): ParsedSentence {
  if (/(^|\s)[()](\s|$)/.test(expression)) return parseBinaryParse(expression);
  const tokens = expression.split(/\s+/).filter((t) => t !== "");
  if (tokens.length === 0) throw new FormatError("empty sentence (no words)");
  evaluateListOpsTokens(tokens);
  return { tokens, transitions: listOpsTransitions(tokens) };
}

export interface ListOpsReadOptions {
  /** Skip invalid lines (and count them) instead of throwing. Default false. */
  lenient?: boolean;
  /** Check every label against the evaluator (default true). */
  verifyLabels?: boolean;
  maxKeptErrors?: number;
}

export interface ListOpsReadResult {
  examples: ListOpsExample[];
  lines: number;
  invalid: SkippedLines;
}

/** Reads a ListOps file (`label<TAB>expression` per line). Throws {@link DataError} unless lenient. */
export async function readListOps(
  file: string,
  options: ListOpsReadOptions = {},
): Promise<ListOpsReadResult> {
  const sink = new ErrorSink(options.lenient ?? false, options.maxKeptErrors);
  const verify = options.verifyLabels ?? true;
  const examples: ListOpsExample[] = [];
  let count = 0;
  for await (const { lines, firstLine } of readLineBatches(file)) {
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      const line = firstLine + i;
      if (text.trim() === "") continue;
      count++;
      try {
        examples.push(parseListOpsLine(file, line, text, verify));
      } catch (err) {
        if (err instanceof DataError) sink.report(err);
        else throw err;
      }
    }
  }
  return { examples, lines: count, invalid: sink.skipped };
}

function parseListOpsLine(file: string, line: number, text: string, verify: boolean): ListOpsExample {
  const tab = text.indexOf("\t");
  if (tab < 0) throw new DataError(file, line, undefined, "expected 'label<TAB>expression'");
  const labelText = text.slice(0, tab).trim();
  const label = Number(labelText);
  if (!/^\d$/.test(labelText) || label >= LISTOPS_NUM_CLASSES) {
    throw new DataError(file, line, "label", `expected a digit 0-9, got ${JSON.stringify(labelText)}`);
  }
  let sentence: ParsedSentence;
  let value: number;
  try {
    sentence = parseListOpsExpression(text.slice(tab + 1));
    value = evaluateListOps(sentence);
  } catch (err) {
    if (err instanceof FormatError) throw new DataError(file, line, "expression", err.message);
    throw err;
  }
  if (verify && value !== label) {
    throw new DataError(file, line, "label", `${label} does not match the expression's value ${value}`);
  }
  return { id: `line ${line}`, label, sentence, source: { file, line } };
}
