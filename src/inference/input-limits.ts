// How much one input line may hold, for every command or server that reads sentences from users
// (predict, parse, and the coming server): a line's bytes, checked while it is read so that an
// endless line is never buffered, and each sentence's tokens, checked once it is tokenized.
//
// The defaults leave room for every published input: ListOps' longest test expression has 939
// tokens (brackets are not tokens), SNLI's and MultiNLI's sentences stay under 300; 10,000 tokens
// is ten times that, and trees of that size still run (no recursion over depth). A line of 1 MiB
// holds a 10,000-token ListOps expression with its brackets many times over.
import { DataError } from "../data/errors.js";
import type { ParsedSentence } from "../data/transitions.js";
import type { Example } from "../tasks/task.js";

export interface InputLimits {
  /** Tokens in one sentence (each side of an NLI pair separately). */
  maxTokens: number;
  /** Bytes in one input line (UTF-8, without its line break). */
  maxLineBytes: number;
}

export const DEFAULT_INPUT_LIMITS: Readonly<InputLimits> = Object.freeze({
  maxTokens: 10_000,
  maxLineBytes: 1024 * 1024,
});

/** The same limits as command-line flags, for error messages and --help (and a server's options). */
export const INPUT_LIMIT_FLAGS = { maxTokens: "--max-tokens", maxLineBytes: "--max-line-bytes" } as const;

/** The error for a line longer than the limit (thrown by the line reader before decoding it). */
export function lineTooLong(file: string, line: number, maxLineBytes: number): DataError {
  return new DataError(
    file,
    line,
    undefined,
    `line longer than ${maxLineBytes} bytes (the limit; raise it with ${INPUT_LIMIT_FLAGS.maxLineBytes})`,
  );
}

/** Throws a DataError at file:line if the sentence has more tokens than the limit. */
export function checkSentenceLength(
  s: ParsedSentence,
  limits: InputLimits,
  where: { file: string; line: number },
  field?: string,
): void {
  if (s.tokens.length <= limits.maxTokens) return;
  throw new DataError(
    where.file,
    where.line,
    field,
    `${s.tokens.length} tokens, more than the limit of ${limits.maxTokens} (raise it with ${INPUT_LIMIT_FLAGS.maxTokens})`,
  );
}

/** Checks every sentence of an example (the ListOps expression, or premise and hypothesis). */
export function checkExampleLength(
  ex: Example,
  limits: InputLimits,
  where: { file: string; line: number },
): void {
  if ("sentence" in ex) {
    checkSentenceLength(ex.sentence, limits, where);
    return;
  }
  checkSentenceLength(ex.premise, limits, where, "premise");
  checkSentenceLength(ex.hypothesis, limits, where, "hypothesis");
}
