// Streams a text file as lines, in batches, so that multi-gigabyte files (full SNLI train, GloVe
// 840B) are never held in memory whole, while the per-line cost stays a plain string split (an
// async iteration per line would dominate the time on small lines).

import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { DataError } from "./errors.js";

/**
 * The name standard input goes by: a reader given it reads stdin (the CLI's `-`), and its errors
 * read `<stdin>:LINE: ...`.
 */
export const STDIN = "<stdin>";

let stdinContents: Promise<Buffer> | null = null;

/**
 * Standard input, read whole once and kept: it cannot be read twice, and a data file is (its
 * first line tells its format, then the reader reads it all).
 */
function readStdin(): Promise<Buffer> {
  stdinContents ??= (async () => {
    const parts: Buffer[] = [];
    for await (const chunk of process.stdin) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  })();
  return stdinContents;
}

/** A run of consecutive lines; `firstLine` is the 1-based line number of `lines[0]`. */
export interface LineBatch {
  lines: string[];
  firstLine: number;
}

/**
 * Yields the lines of `file` (or of stdin, for {@link STDIN}) in order, without their "\n" / "\r\n" endings and without a leading
 * UTF-8 byte-order mark. A final line without a newline is yielded too; an empty file yields
 * nothing. Errors opening or reading the file become a {@link DataError} at line 0.
 */
export async function* readLineBatches(file: string, chunkBytes = 1 << 20): AsyncGenerator<LineBatch> {
  const decoder = new StringDecoder("utf8");
  const stream =
    file === STDIN
      ? Readable.from([await readStdin()])
      : createReadStream(file, { highWaterMark: chunkBytes });
  let carry = "";
  let lineNo = 1;
  let first = true;
  try {
    for await (const chunk of stream) {
      let text = carry + decoder.write(chunk as Buffer);
      if (first) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      const lines = text.split("\n");
      carry = lines.pop()!;
      if (lines.length === 0) continue;
      stripCarriageReturns(lines);
      yield { lines, firstLine: lineNo };
      lineNo += lines.length;
    }
  } catch (err) {
    throw asDataError(file, err);
  }
  let rest = carry + decoder.end();
  if (first && rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
  if (rest.length > 0) {
    const lines = [rest];
    stripCarriageReturns(lines);
    yield { lines, firstLine: lineNo };
  }
}

function stripCarriageReturns(lines: string[]): void {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.charCodeAt(line.length - 1) === 13) lines[i] = line.slice(0, -1);
  }
}

/** Turns a file-system error into a one-line {@link DataError} (line 0: the file as a whole). */
export function asDataError(file: string, err: unknown): Error {
  if (err instanceof DataError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === "ENOENT"
      ? "no such file"
      : code === "EISDIR"
        ? "is a directory, not a file"
        : code === "EACCES"
          ? "permission denied"
          : `cannot read (${(err as Error)?.message ?? String(err)})`;
  return new DataError(file, 0, undefined, why);
}

/** Reads the first line of a file (for format detection), or "" for an empty file. */
export async function readFirstLine(file: string): Promise<string> {
  for await (const batch of readLineBatches(file, 64 * 1024)) {
    return batch.lines[0] ?? "";
  }
  return "";
}
