// Turning `spinn predict` input lines into examples. A line is a JSON object:
//   NLI:     {"premise": "...", "hypothesis": "..."} (or SNLI's sentence1/sentence2), optionally
//            with parses in binary-parse notation: premise_parse / hypothesis_parse (or SNLI's
//            sentence1_binary_parse / sentence2_binary_parse).
//   ListOps: {"sentence": "( ( [MAX 2 ) 9 ) ] )"}
// A sentence without a parse is tokenized (PTB style) and has no tree (transitions null).
import { DataError, FormatError } from "../data/errors.js";
import { parseListOpsExpression } from "../data/listops.js";
import { tokenize } from "../data/tokenizer.js";
import { type ParsedSentence, parseBinaryParse, unparsedSentence } from "../data/transitions.js";
import type { Task } from "../models/kinds.js";
import type { Example } from "../tasks/task.js";

function field(obj: Record<string, unknown>, names: string[]): [string, string] | null {
  for (const n of names) {
    const v = obj[n];
    if (typeof v === "string") return [n, v];
  }
  return null;
}

/** Fails naming the first of `names` that is present but not a string (a number, an array…). */
function requireStringsWhereGiven(obj: Record<string, unknown>, names: string[], where: Where): void {
  const given = names.find((k) => obj[k] !== undefined && obj[k] !== null && typeof obj[k] !== "string");
  if (given === undefined) return;
  const got = Array.isArray(obj[given]) ? "array" : typeof obj[given];
  throw new DataError(where.file, where.line, given, `must be a string, got ${got}`);
}

type Where = { file: string; line: number };

function sentenceFrom(
  obj: Record<string, unknown>,
  textKeys: string[],
  parseKeys: string[],
  where: Where,
): ParsedSentence {
  requireStringsWhereGiven(obj, [...textKeys, ...parseKeys], where);
  const parse = field(obj, parseKeys);
  const at = (name: string, fn: () => ParsedSentence) => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof FormatError) throw new DataError(where.file, where.line, name, err.message);
      throw err;
    }
  };
  if (parse) return at(parse[0], () => parseBinaryParse(parse[1]));
  const text = field(obj, textKeys);
  if (!text) throw new DataError(where.file, where.line, undefined, `missing "${textKeys[0]}" (a string)`);
  const tokens = tokenize(text[1]);
  if (tokens.length === 0) throw new DataError(where.file, where.line, text[0], "empty sentence");
  return unparsedSentence(tokens);
}

/** One input line as an example of the task (label 0: unknown). */
export function exampleFromLine(text: string, task: Task, file: string, line: number): Example {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new DataError(file, line, undefined, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new DataError(file, line, undefined, "expected a JSON object");
  }
  const o = obj as Record<string, unknown>;
  const where = { file, line };
  const source = { file, line };
  const id = typeof o.id === "string" || typeof o.id === "number" ? String(o.id) : `line ${line}`;
  if (task === "listops") {
    requireStringsWhereGiven(o, ["sentence", "expression"], where);
    const s = field(o, ["sentence", "expression"]);
    if (!s) throw new DataError(file, line, undefined, 'missing "sentence" (a ListOps expression)');
    try {
      return { id, label: 0, sentence: parseListOpsExpression(s[1]), source };
    } catch (err) {
      if (err instanceof FormatError) throw new DataError(file, line, s[0], err.message);
      throw err;
    }
  }
  return {
    id,
    label: 0,
    premise: sentenceFrom(o, ["premise", "sentence1"], ["premise_parse", "sentence1_binary_parse"], where),
    hypothesis: sentenceFrom(
      o,
      ["hypothesis", "sentence2"],
      ["hypothesis_parse", "sentence2_binary_parse"],
      where,
    ),
    source,
  };
}
