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
 * Checks that `transitions` is a complete binary tree over `numTokens` words; throws
 * {@link FormatError} otherwise. Step numbers in messages are 1-based.
 */
export function validateTransitions(transitions: ArrayLike<number>, numTokens: number): void {
  if (numTokens === 0) throw new FormatError("empty sentence (no words)");
  let stack = 0;
  let shifts = 0;
  for (let i = 0; i < transitions.length; i++) {
    const t = transitions[i];
    if (t === SHIFT) {
      if (shifts === numTokens) throw new FormatError(`SHIFT with an empty buffer (step ${i + 1})`);
      shifts++;
      stack++;
    } else if (t === REDUCE) {
      if (stack < 2) throw new FormatError(`REDUCE with fewer than two items on the stack (step ${i + 1})`);
      stack--;
    } else {
      throw new FormatError(`unknown transition ${t} (step ${i + 1})`);
    }
  }
  if (shifts !== numTokens) throw new FormatError(`${numTokens - shifts} words never shifted`);
  if (stack !== 1)
    throw new FormatError(`tree does not end with one item (${stack} items left on the stack)`);
}

/** Writes tokens and transitions back in bracket notation (the inverse of {@link parseBinaryParse}). */
export function toBinaryParse(sentence: ParsedSentence): string {
  const { tokens, transitions } = sentence;
  if (transitions === null) return tokens.join(" ");
  validateTransitions(transitions, tokens.length);
  const stack: string[] = [];
  let next = 0;
  for (const t of transitions) {
    if (t === SHIFT) {
      stack.push(tokens[next++]!);
    } else {
      const right = stack.pop()!;
      const left = stack.pop()!;
      stack.push(`( ${left} ${right} )`);
    }
  }
  return stack[0]!;
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
  const out: number[] = [];
  let shifts = 0;
  let stack = 0;
  for (const t of transitions) {
    if (t === SHIFT) {
      if (shifts === maxTokens) break;
      shifts++;
      stack++;
    } else {
      stack--;
    }
    out.push(t);
  }
  for (; stack > 1; stack--) out.push(REDUCE);
  return { tokens: kept, transitions: Uint8Array.from(out) };
}
