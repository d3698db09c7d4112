// Reading back the files the project wrote, checked: every JSON file is parsed and its shape
// validated field by field, so that a truncated, empty or hand-edited file is one clear line
// naming the file and the field instead of a stack trace or a silently wrong run. Hand-written
// (a few typed accessors) rather than a schema library: the shapes are small and flat, and the
// messages stay in the project's "file: field: problem" form.
import { readFileSync } from "node:fs";

/** A model directory or checkpoint that is missing, incomplete, corrupted or does not fit the model. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export type JsonObject = Record<string, unknown>;

/** Parses `text` (read from `file`) as JSON; a clear CheckpointError when it is not. */
export function parseJson(text: string, file: string): unknown {
  if (text.trim() === "") throw new CheckpointError(`${file}: empty file (truncated or never written)`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** Reads and parses a JSON file; unreadable or invalid files are CheckpointErrors naming it. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CheckpointError(`${file}: cannot read (${e.code ?? e.message})`);
  }
  return parseJson(text, file);
}

/**
 * Typed access to the fields of one JSON object read from `file`; every accessor throws
 * "file: field: expected ..., got ..." when the field does not fit.
 */
export class Fields {
  readonly object: JsonObject;

  constructor(
    value: unknown,
    readonly file: string,
    readonly prefix = "",
  ) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      const where = prefix ? `${prefix.slice(0, -1)}: ` : "";
      const shown = value === undefined ? "nothing" : JSON.stringify(value)?.slice(0, 60);
      throw new CheckpointError(`${file}: ${where}expected a JSON object, got ${shown}`);
    }
    this.object = value as JsonObject;
  }

  fail(key: string, expected: string, got: unknown): never {
    const shown = got === undefined ? "nothing" : JSON.stringify(got)?.slice(0, 60);
    throw new CheckpointError(`${this.file}: ${this.prefix}${key}: ${expected}, got ${shown}`);
  }

  has(key: string): boolean {
    return this.object[key] !== undefined;
  }

  int(key: string, min = 0): number {
    const v = this.object[key];
    if (!Number.isInteger(v) || (v as number) < min) this.fail(key, `expected an integer >= ${min}`, v);
    return v as number;
  }

  number(key: string): number {
    const v = this.object[key];
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(key, "expected a finite number", v);
    return v;
  }

  string(key: string): string {
    const v = this.object[key];
    if (typeof v !== "string") this.fail(key, "expected a string", v);
    return v;
  }

  boolean(key: string): boolean {
    const v = this.object[key];
    if (typeof v !== "boolean") this.fail(key, "expected true or false", v);
    return v;
  }

  oneOf<T extends string>(key: string, choices: readonly T[]): T {
    const v = this.object[key];
    if (!choices.includes(v as T)) this.fail(key, `expected one of ${choices.join(", ")}`, v);
    return v as T;
  }

  literal(key: string, expected: string | number): void {
    const v = this.object[key];
    if (v !== expected) this.fail(key, `expected ${JSON.stringify(expected)}`, v);
  }

  /** The nested object at `key`, with its own accessors (messages say `key.field`). */
  nested(key: string): Fields {
    return new Fields(this.object[key], this.file, `${this.prefix}${key}.`);
  }
}
