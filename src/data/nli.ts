// Readers for natural language inference data: sentence pairs with a three-way label.
//
// Two on-disk formats are read, both streamed line by line (the full SNLI train file is 470 MB):
//   - jsonl (SNLI 1.0, MultiNLI 1.0): one JSON object per line with gold_label, sentence1/2,
//     sentence1/2_binary_parse, pairID and, in MultiNLI, genre;
//   - txt (SNLI/MultiNLI tab-separated): a header line naming the columns, then one pair per line.
// A pair whose gold_label is "-" (no annotator consensus) is skipped and counted, as is standard.
// A sentence with a binary parse gets gold transitions; one without (the parse key is absent)
// is tokenized from its raw text and gets `transitions: null`.

import { DataError, ErrorSink, FormatError, type SkippedLines } from "./errors.js";
import { readLineBatches } from "./lines.js";
import { tokenize } from "./tokenizer.js";
import { type ParsedSentence, parseBinaryParse, unparsedSentence } from "./transitions.js";

export const NLI_LABELS = ["entailment", "neutral", "contradiction"] as const;

/** Where an example came from: the file as given by the caller and its 1-based line. */
export interface SourceLocation {
  file: string;
  line: number;
}

export interface NliExample {
  /** pairID when the file has one, else "line N". */
  id: string;
  /** Index into {@link NLI_LABELS}: 0 entailment, 1 neutral, 2 contradiction. */
  label: number;
  premise: ParsedSentence;
  hypothesis: ParsedSentence;
  /** MultiNLI's genre (e.g. "fiction"), when present. */
  genre?: string;
  source: SourceLocation;
}

export type NliFormat = "jsonl" | "txt";

export interface NliReadOptions {
  /** Skip invalid lines (and count them) instead of throwing on the first one. Default false. */
  lenient?: boolean;
  /** File format; by default from the extension (.jsonl / .json → jsonl, otherwise txt). */
  format?: NliFormat;
  /** How many skipped-line errors to keep for reporting in lenient mode (default 20). */
  maxKeptErrors?: number;
}

export interface NliReadResult {
  examples: NliExample[];
  format: NliFormat;
  /** Non-blank lines read (the txt header not included). */
  lines: number;
  /** Pairs skipped because gold_label is "-". */
  noGoldLabel: number;
  /** Lines skipped because they were invalid (lenient mode only; strict mode throws). */
  invalid: SkippedLines;
}

const LABEL_IDS: ReadonlyMap<string, number> = new Map(NLI_LABELS.map((l, i) => [l, i]));

/** Format of an NLI file, from its name. */
export function nliFormatOf(file: string): NliFormat {
  return /\.jsonl?$/i.test(file) ? "jsonl" : "txt";
}

/** The fields of one pair, as strings, whatever the file format. */
interface RawPair {
  gold_label?: unknown;
  sentence1?: unknown;
  sentence2?: unknown;
  sentence1_binary_parse?: unknown;
  sentence2_binary_parse?: unknown;
  pairID?: unknown;
  genre?: unknown;
}

/** Streams the examples of an NLI file; see {@link readNli} for the collected form. */
export async function* iterateNli(
  file: string,
  options: NliReadOptions = {},
  counters: { lines: number; noGoldLabel: number; sink?: ErrorSink } = { lines: 0, noGoldLabel: 0 },
): AsyncGenerator<NliExample> {
  const format = options.format ?? nliFormatOf(file);
  const sink = counters.sink ?? new ErrorSink(options.lenient ?? false, options.maxKeptErrors);
  let columns: Map<string, number> | null = null;
  for await (const { lines, firstLine } of readLineBatches(file)) {
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      const lineNo = firstLine + i;
      if (text.trim() === "") continue;
      let raw: RawPair;
      if (format === "jsonl") {
        counters.lines++;
        try {
          raw = JSON.parse(text) as RawPair;
        } catch (err) {
          sink.report(new DataError(file, lineNo, undefined, `invalid JSON (${(err as Error).message})`));
          continue;
        }
        if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
          sink.report(new DataError(file, lineNo, undefined, "expected a JSON object"));
          continue;
        }
      } else {
        if (columns === null) {
          columns = readHeader(file, lineNo, text);
          continue;
        }
        counters.lines++;
        raw = fromColumns(columns, text.split("\t"));
      }
      let example: NliExample | null;
      try {
        example = toExample(file, lineNo, raw);
      } catch (err) {
        if (err instanceof DataError) {
          sink.report(err);
          continue;
        }
        throw err;
      }
      if (example === null) counters.noGoldLabel++;
      else yield example;
    }
  }
}

/**
 * Reads a whole NLI file into memory (examples are small; it is the raw file that is big).
 * Throws {@link DataError} on the first invalid line unless `lenient`.
 */
export async function readNli(file: string, options: NliReadOptions = {}): Promise<NliReadResult> {
  const sink = new ErrorSink(options.lenient ?? false, options.maxKeptErrors);
  const counters = { lines: 0, noGoldLabel: 0, sink };
  const examples: NliExample[] = [];
  for await (const ex of iterateNli(file, options, counters)) examples.push(ex);
  return {
    examples,
    format: options.format ?? nliFormatOf(file),
    lines: counters.lines,
    noGoldLabel: counters.noGoldLabel,
    invalid: sink.skipped,
  };
}

const REQUIRED_TXT_COLUMNS = ["gold_label", "sentence1", "sentence2"];

function readHeader(file: string, lineNo: number, text: string): Map<string, number> {
  const names = text.split("\t").map((n) => n.trim());
  const columns = new Map<string, number>();
  names.forEach((name, i) => {
    if (!columns.has(name)) columns.set(name, i);
  });
  const missing = REQUIRED_TXT_COLUMNS.filter((c) => !columns.has(c));
  if (missing.length > 0) {
    throw new DataError(
      file,
      lineNo,
      undefined,
      `header: missing column${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (the first line of a tab-separated NLI file must name the columns)`,
    );
  }
  return columns;
}

function fromColumns(columns: Map<string, number>, cells: string[]): RawPair {
  const get = (name: string): string | undefined => {
    const i = columns.get(name);
    return i === undefined ? undefined : cells[i];
  };
  return {
    gold_label: get("gold_label"),
    sentence1: get("sentence1"),
    sentence2: get("sentence2"),
    sentence1_binary_parse: get("sentence1_binary_parse"),
    sentence2_binary_parse: get("sentence2_binary_parse"),
    pairID: get("pairID"),
    genre: get("genre"),
  };
}

/** Builds an example, or returns null for a pair without a gold label ("-"). */
function toExample(file: string, line: number, raw: RawPair): NliExample | null {
  const gold = raw.gold_label;
  if (typeof gold !== "string") {
    throw new DataError(file, line, "gold_label", gold === undefined ? "missing" : "expected a string");
  }
  if (gold === "-") return null;
  const label = LABEL_IDS.get(gold);
  if (label === undefined) {
    throw new DataError(
      file,
      line,
      "gold_label",
      `unknown label ${JSON.stringify(gold)} (expected ${NLI_LABELS.join(", ")} or "-")`,
    );
  }
  const premise = sentenceOf(file, line, raw, "sentence1");
  const hypothesis = sentenceOf(file, line, raw, "sentence2");
  const id = typeof raw.pairID === "string" && raw.pairID !== "" ? raw.pairID : `line ${line}`;
  const example: NliExample = { id, label, premise, hypothesis, source: { file, line } };
  if (typeof raw.genre === "string" && raw.genre !== "") example.genre = raw.genre;
  return example;
}

function sentenceOf(
  file: string,
  line: number,
  raw: RawPair,
  key: "sentence1" | "sentence2",
): ParsedSentence {
  const parseKey = `${key}_binary_parse` as const;
  const parse = raw[parseKey];
  if (parse !== undefined && parse !== null) {
    if (typeof parse !== "string") throw new DataError(file, line, parseKey, "expected a string");
    try {
      return parseBinaryParse(parse);
    } catch (err) {
      if (err instanceof FormatError) throw new DataError(file, line, parseKey, err.message);
      throw err;
    }
  }
  const text = raw[key];
  if (text === undefined || text === null) {
    throw new DataError(file, line, key, `missing (and no ${parseKey} either)`);
  }
  if (typeof text !== "string") throw new DataError(file, line, key, "expected a string");
  const tokens = tokenize(text);
  if (tokens.length === 0) throw new DataError(file, line, key, "empty sentence (no words)");
  return unparsedSentence(tokens);
}
