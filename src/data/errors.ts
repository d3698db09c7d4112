// One error type for everything wrong with a data file, so that callers (the CLI, the trainer) can
// tell "the user's data is bad" apart from bugs, and so that every message names where: the file
// as the user spelled it, the 1-based line, and the field (JSON key or column) when there is one.

/**
 * A problem in a data file. The message reads
 * `data/x.jsonl:12: sentence1_binary_parse: REDUCE with fewer than two items on the stack (token 5)`;
 * `field` is omitted from the message when the problem is not in one field (e.g. invalid JSON).
 * `line` is 0 for problems with the file as a whole (e.g. a missing file): the message then reads
 * `data/x.jsonl: no such file`, without a line number.
 */
export class DataError extends Error {
  override name = "DataError";
  readonly file: string;
  readonly line: number;
  readonly field: string | undefined;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(file: string, line: number, field: string | undefined, detail: string) {
    // Line 0 is the file as a whole (missing, empty, the wrong task): no line number is shown.
    super(`${line > 0 ? `${file}:${line}` : file}: ${field === undefined ? "" : `${field}: `}${detail}`);
    this.file = file;
    this.line = line;
    this.field = field;
    this.detail = detail;
  }
}

/**
 * A problem in one string (a parse, an expression) before the caller knows the file and line;
 * readers catch it and rethrow it as a {@link DataError} with the location added.
 */
export class FormatError extends Error {
  override name = "FormatError";
}

/** What a lenient reader reports about the lines it skipped. */
export interface SkippedLines {
  /** How many lines were skipped because they were invalid. */
  count: number;
  /** The first few errors (at most `maxKept`), in file order. */
  errors: DataError[];
}

/** Collects errors in lenient mode, or throws the first one in strict mode. */
export class ErrorSink {
  readonly skipped: SkippedLines = { count: 0, errors: [] };
  constructor(
    readonly lenient: boolean,
    private readonly maxKept = 20,
  ) {}

  /** Throws `err` in strict mode; in lenient mode records it and returns. */
  report(err: DataError): void {
    if (!this.lenient) throw err;
    this.skipped.count++;
    if (this.skipped.errors.length < this.maxKept) this.skipped.errors.push(err);
  }
}
