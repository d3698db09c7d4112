// Sentences as binary trees, read as shift-reduce transition sequences (SPINN's view of a parse).
//
// A binary parse in the SNLI / ListOps bracket notation is a whitespace-separated string:
// "(" is ignored, every other token is a word (SHIFT), and ")" closes the innermost two items
// (REDUCE). "( ( The church ) ( has cracks ) )" is SHIFT SHIFT REDUCE SHIFT SHIFT REDUCE REDUCE.
// A valid tree over n words has n SHIFTs and n − 1 REDUCEs, and every REDUCE finds at least two
// items on the stack.

import { FormatError } from "./errors.js";

export const SHIFT = 0;
export const REDUCE = 1;
/** Padding step in padded transition matrices: the example does nothing at this step. */
export const SKIP = 2;

/**
 * A sentence: its tokens and, when a tree is known, its transitions (SHIFT = 0, REDUCE = 1, one
 * per step, 2·tokens − 1 steps). `transitions` is null when no gold tree was given (raw text,
 * files without a parse): models must then build or predict their own.
 */
export interface ParsedSentence {
  tokens: string[];
  transitions: Uint8Array | null;
}

/**
 * Parses a binary bracketed parse into tokens and transitions. Throws {@link FormatError} for an
 * empty sentence, unbalanced brackets, a REDUCE with fewer than two items, or a tree that does not
 * end with exactly one item. Token positions in messages are 1-based over the whitespace-separated
 * parse string, brackets included.
 */
export function parseBinaryParse(parse: string): ParsedSentence {
  // A hand-written scanner (no regex split, no per-token arrays): reading SNLI spends most of its
  // time here, two parses per line.
  const n = parse.length;
  const tokens: string[] = [];
  const steps = new Uint8Array(n); // at most one step per character
  let numSteps = 0;
  let depth = 0;
  let stack = 0;
  let position = 0;
  let i = 0;
  while (i < n) {
    const c = parse.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n) {
      const d = parse.charCodeAt(j);
      if (d === 32 || d === 9 || d === 10 || d === 13) break;
      j++;
    }
    position++;
    if (j === i + 1 && c === 40 /* ( */) {
      depth++;
    } else if (j === i + 1 && c === 41 /* ) */) {
      if (depth === 0) {
        if (tokens.length === 0 && !hasWord(parse, j)) throw new FormatError("empty sentence (no words)");
        throw new FormatError(`unbalanced brackets: ')' without a matching '(' (token ${position})`);
      }
      depth--;
      if (stack < 2) {
        if (tokens.length === 0 && !hasWord(parse, j)) throw new FormatError("empty sentence (no words)");
        throw new FormatError(`REDUCE with fewer than two items on the stack (token ${position})`);
      }
      stack--;
      steps[numSteps++] = REDUCE;
    } else {
      tokens.push(parse.slice(i, j));
      stack++;
      steps[numSteps++] = SHIFT;
    }
    i = j;
  }
  if (tokens.length === 0) throw new FormatError("empty sentence (no words)");
  if (depth > 0) throw new FormatError(`unbalanced brackets: ${depth} '(' not closed`);
  if (stack !== 1) {
    throw new FormatError(`tree does not end with one item (${stack} items left on the stack)`);
  }
  return { tokens, transitions: steps.slice(0, numSteps) };
}

/** Whether any word (a token other than "(" and ")") appears from `from` on. */
function hasWord(parse: string, from: number): boolean {
  return parse
    .slice(from)
    .split(/\s+/)
    .some((p) => p !== "" && p !== "(" && p !== ")");
}

/**
 * How to compute a value for a tree bottom-up: one for each word, and one for each internal node
 * from its two children's. `step` is the 1-based step of the SHIFT or REDUCE (as messages count).
 */
export interface TreeFold<T> {
  leaf(word: number, step: number): T;
  node(left: T, right: T, step: number): T;
}

/** A fold that computes nothing: running it only checks the transitions. */
const CHECK_ONLY: TreeFold<null> = { leaf: () => null, node: () => null };

/**
 * Runs the shift-reduce machine over `transitions`, which may be a prefix of a tree, and returns
 * its stack: the values of the complete subtrees built so far, left to right. The one walk over
 * transitions that every other tree computation is built on. It keeps an explicit stack (never
 * recursion), so trees of any depth work, and it calls `fold` in transition order: words left to
 * right, each node right after its two children (post-order), which callers may rely on.
 * Throws {@link FormatError} naming the 1-based step for an unknown transition or a REDUCE with
 * fewer than two items, and, when `numTokens` is given, for a SHIFT past the last word.
 */
export function foldStack<T>(transitions: ArrayLike<number>, fold: TreeFold<T>, numTokens?: number): T[] {
  return runMachine(transitions, fold, numTokens).stack;
}

/**
 * The value of a whole tree, computed bottom-up with {@link foldStack}'s walk. Also checks that
 * the transitions end with exactly one tree (over exactly `numTokens` words when given); throws
 * {@link FormatError} otherwise.
 */
export function foldTree<T>(transitions: ArrayLike<number>, fold: TreeFold<T>, numTokens?: number): T {
  const { stack, words } = runMachine(transitions, fold, numTokens);
  if (numTokens !== undefined && words !== numTokens) {
    throw new FormatError(`${numTokens - words} words never shifted`);
  }
  if (words === 0) throw new FormatError("empty sentence (no words)");
  if (stack.length !== 1) {
    throw new FormatError(`tree does not end with one item (${stack.length} items left on the stack)`);
  }
  return stack[0]!;
}

function runMachine<T>(
  transitions: ArrayLike<number>,
  fold: TreeFold<T>,
  numTokens: number | undefined,
): { stack: T[]; words: number } {
  if (numTokens === 0) throw new FormatError("empty sentence (no words)");
  const stack: T[] = [];
  let words = 0;
  for (let i = 0; i < transitions.length; i++) {
    const t = transitions[i];
    if (t === SHIFT) {
      if (words === numTokens) throw new FormatError(`SHIFT with an empty buffer (step ${i + 1})`);
      stack.push(fold.leaf(words++, i + 1));
    } else if (t === REDUCE) {
      if (stack.length < 2) {
        throw new FormatError(`REDUCE with fewer than two items on the stack (step ${i + 1})`);
      }
      const right = stack.pop()!;
      const left = stack.pop()!;
      stack.push(fold.node(left, right, i + 1));
    } else {
      throw new FormatError(`unknown transition ${t} (step ${i + 1})`);
    }
  }
  return { stack, words };
}

/**
 * Checks that `transitions` is a complete binary tree over `numTokens` words; throws
 * {@link FormatError} otherwise. Step numbers in messages are 1-based.
 */
export function validateTransitions(transitions: ArrayLike<number>, numTokens: number): void {
  foldTree(transitions, CHECK_ONLY, numTokens);
}

/**
 * Writes tokens and transitions back in bracket notation (the inverse of {@link parseBinaryParse}).
 * Throws {@link FormatError} when the transitions are not a tree over the tokens.
 */
export function toBinaryParse(sentence: {
  tokens: readonly string[];
  transitions: ArrayLike<number> | null;
}): string {
  const { tokens, transitions } = sentence;
  if (transitions === null) return tokens.join(" ");
  // In step order a tree reads as its words and its ")" (one per REDUCE); each node's "(" goes
  // before the first word of its left child. The fold returns that first word's position in
  // `parts`, so the string is built in one pass without nesting strings (any depth works).
  const parts: string[] = [];
  const opens: number[] = [];
  const emit = (part: string): number => {
    opens.push(0);
    return parts.push(part) - 1;
  };
  foldTree<number>(
    transitions,
    {
      leaf: (word) => emit(tokens[word]!),
      node: (first) => {
        opens[first]!++;
        emit(")");
        return first;
      },
    },
    tokens.length,
  );
  return parts.map((part, k) => "( ".repeat(opens[k]!) + part).join(" ");
}

/**
 * A sentence read without a parse. One word has exactly one tree, a single leaf (one SHIFT), so
 * it gets it: a one-word sentence or a single-value ListOps expression ("9") is composed like any
 * other. Longer sentences get `transitions: null` (their tree must be given or predicted).
 */
export function unparsedSentence(tokens: string[]): ParsedSentence {
  return { tokens, transitions: tokens.length === 1 ? Uint8Array.of(SHIFT) : null };
}

/**
 * Transitions for a tree chosen without a parse: "left" ((a b) c) d, "right" a (b (c d)) or
 * "balanced" (complete binary tree, left half larger). Useful as a baseline for raw text.
 */
export function branchingTransitions(numTokens: number, kind: "left" | "right" | "balanced"): Uint8Array {
  if (!Number.isInteger(numTokens) || numTokens < 1) {
    throw new RangeError(`branchingTransitions: need at least one token, got ${numTokens}`);
  }
  const out = new Uint8Array(2 * numTokens - 1);
  let k = 0;
  if (kind === "left") {
    out[k++] = SHIFT;
    for (let i = 1; i < numTokens; i++) {
      out[k++] = SHIFT;
      out[k++] = REDUCE;
    }
  } else if (kind === "right") {
    for (let i = 0; i < numTokens; i++) out[k++] = SHIFT;
    for (let i = 1; i < numTokens; i++) out[k++] = REDUCE;
  } else {
    // Recursive, but over a complete binary tree: the depth is ceil(log2 n), never deep.
    const build = (n: number): void => {
      if (n === 1) {
        out[k++] = SHIFT;
        return;
      }
      const left = Math.ceil(n / 2);
      build(left);
      build(n - left);
      out[k++] = REDUCE;
    };
    build(numTokens);
  }
  return out;
}

/**
 * A random binary tree over `numTokens` words, as transitions: at each step SHIFT when a word is
 * left and (the stack has fewer than two items or a draw is below 0.5), else REDUCE. The same
 * distribution and the same draws as the PyTorch reference's random_tree (../shared/bench/spinn_torch.py),
 * so synthetic benchmark data matches it. `rng` is anything with `next()` uniform in [0, 1).
 */
export function randomTransitions(numTokens: number, rng: { next(): number }): Uint8Array {
  if (!Number.isInteger(numTokens) || numTokens < 1) {
    throw new RangeError(`randomTransitions: need at least one token, got ${numTokens}`);
  }
  const out = new Uint8Array(2 * numTokens - 1);
  let depth = 0;
  let shifted = 0;
  for (let k = 0; k < out.length; k++) {
    if (shifted < numTokens && (depth < 2 || rng.next() < 0.5)) {
      out[k] = SHIFT;
      shifted++;
      depth++;
    } else {
      out[k] = REDUCE;
      depth--;
    }
  }
  return out;
}

/**
 * Keeps the first `maxTokens` tokens of a sentence. The tree is cut, not discarded: transitions
 * are kept up to the point where token `maxTokens + 1` would be shifted, then REDUCEs join what is
 * left on the stack, so every complete subtree among the kept words survives and the result is
 * still a valid tree. Returns the sentence itself when it is short enough.
 */
export function cropSentence(sentence: ParsedSentence, maxTokens: number): ParsedSentence {
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new RangeError(`cropSentence: maxTokens must be a positive integer, got ${maxTokens}`);
  }
  const { tokens, transitions } = sentence;
  if (tokens.length <= maxTokens) return sentence;
  const kept = tokens.slice(0, maxTokens);
  if (transitions === null) return { tokens: kept, transitions: null };
  // Cut where word maxTokens + 1 would be shifted; the subtrees on the stack there are joined.
  const cut = stepOfWord(transitions, maxTokens + 1);
  const roots = foldStack(transitions.subarray(0, cut), CHECK_ONLY).length;
  const out = new Uint8Array(cut + roots - 1).fill(REDUCE);
  out.set(transitions.subarray(0, cut));
  return { tokens: kept, transitions: out };
}

/** The 0-based step at which the given (1-based) word is shifted; the length when it never is. */
function stepOfWord(transitions: Uint8Array, word: number): number {
  let seen = 0;
  for (let i = 0; i < transitions.length; i++) {
    if (transitions[i] === SHIFT && ++seen === word) return i;
  }
  return transitions.length;
}
