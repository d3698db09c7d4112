// Reading a command's input (a file, or stdin) line by line in batches: predict and parse turn
// each non-empty line into an item and handle the items batchSize at a time, so output starts
// before the input ends and memory stays bounded. Lines are split from the raw bytes here (not
// by readline, which buffers a whole line however long it is): a line over the byte limit is an
// error as soon as the limit is passed, without reading the rest of it.

import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { DataError } from "../data/errors.js";
import { STDIN } from "../data/lines.js";
import { type InputLimits, lineTooLong } from "../inference/input-limits.js";
import { writeJsonLine } from "./json-output.js";

const NEWLINE = 0x0a;
const CR = 0x0d;
const BOM = 0xfeff;

/** One input line's outcome: its item, or (with --lenient) the error that made it unusable. */
export type LineEntry<T> = { line: number; item: T } | { line: number; error: DataError };

/**
 * Reads the input's non-empty lines as items, batchSize entries at a time, in input order.
 * Strict (the default): the first bad line (a DataError from `item`, or a line over the byte
 * limit) ends the read with that error, after the lines before it have been handled. Lenient:
 * a bad line becomes an error entry at its place and the reading goes on.
 */
export async function forEachLineBatch<T>(
  input: string,
  batchSize: number,
  item: (line: string, lineNo: number) => T,
  handle: (entries: LineEntry<T>[]) => void,
  limits: Pick<InputLimits, "maxLineBytes">,
  lenient = false,
): Promise<void> {
  const file = input;
  let pending: LineEntry<T>[] = [];
  let lineNo = 0;
  const flush = () => {
    const entries = pending;
    pending = [];
    if (entries.length > 0) handle(entries);
  };
  // Strict: the good lines read before the bad one are still answered.
  const tooLong = (n: number): void => {
    if (lenient) return;
    flush();
    throw lineTooLong(file, n, limits.maxLineBytes);
  };
  const stream = input === STDIN ? process.stdin : createReadStream(input);
  for await (const line of lines(stream, tooLong, limits.maxLineBytes)) {
    lineNo++;
    if (line === null) {
      pending.push({ line: lineNo, error: lineTooLong(file, lineNo, limits.maxLineBytes) });
    } else {
      if (line.trim() === "") continue;
      try {
        pending.push({ line: lineNo, item: item(line, lineNo) });
      } catch (err) {
        if (!lenient || !(err instanceof DataError)) {
          flush();
          throw err;
        }
        pending.push({ line: lineNo, error: err });
      }
    }
    if (pending.length >= batchSize) flush();
  }
  flush();
}

/** A bad line's error as --lenient writes it: the message without its "file:line: " prefix. */
export function errorOfLine(err: DataError): string {
  return err.field === undefined ? err.detail : `${err.field}: ${err.detail}`;
}

/**
 * The lines of a byte stream (UTF-8, "\n" or "\r\n"; a last line without a break counts; a
 * byte-order mark before the first line is dropped, as the data readers drop it). At
 * most maxBytes of one line are held: past that `tooLong(lineNo)` is called. If it throws, the
 * reading ends there; if it returns, the rest of that line is read past unkept and the line is
 * yielded as null.
 */
export async function* lines(
  stream: Readable,
  tooLong: (lineNo: number) => void,
  maxBytes: number,
): AsyncGenerator<string | null> {
  let parts: Buffer[] = [];
  let held = 0;
  let lineNo = 0;
  let skipping = false;
  const skip = (n: number) => {
    tooLong(n);
    skipping = true;
    parts = [];
    held = 0;
  };
  const take = (tail: Buffer, n: number): string => {
    parts.push(tail);
    let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    parts = [];
    held = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    const text = bytes.toString("utf8");
    return n === 1 && text.charCodeAt(0) === BOM ? text.slice(1) : text;
  };
  // Leaving the loop early (an error, a break) destroys the stream: nothing more is read.
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    let start = 0;
    for (let nl = buf.indexOf(NEWLINE); nl >= 0; nl = buf.indexOf(NEWLINE, start)) {
      lineNo++;
      if (!skipping) {
        // A "\r" before the "\n" is not part of the line, so it does not count against the limit.
        const crlf = nl > 0 ? buf[nl - 1] === CR : parts.length > 0 && endsWithCr(parts);
        if (held + (nl - start) - (crlf ? 1 : 0) > maxBytes) skip(lineNo);
      }
      const line = skipping ? null : take(buf.subarray(start, nl), lineNo);
      skipping = false;
      start = nl + 1;
      yield line;
    }
    if (skipping) continue;
    const rest = buf.subarray(start);
    held += rest.length;
    // One byte of slack: the rest may end with the "\r" of a "\r\n" split across chunks.
    if (held > maxBytes + 1) skip(lineNo + 1);
    else if (rest.length > 0) parts.push(rest);
  }
  if (skipping) yield null;
  else if (held > 0) {
    if (held - (endsWithCr(parts) ? 1 : 0) > maxBytes) {
      tooLong(lineNo + 1);
      yield null;
    } else yield take(Buffer.alloc(0), lineNo + 1);
  }
}

function endsWithCr(parts: Buffer[]): boolean {
  const last = parts[parts.length - 1]!;
  return last[last.length - 1] === CR;
}

/**
 * Writes a bad line's error where --lenient puts it: a JSON object `{"line": N, "error": "..."}`
 * on stdout, in input order, for JSON output; for human output (--pretty, parse's plain trees)
 * a `spinn: FILE:N: ...` line on stderr, written in order with its batch, so stdout holds
 * only answers.
 */
export function writeLineError(err: DataError, json: boolean): void {
  if (json) writeJsonLine({ line: err.line, error: errorOfLine(err) });
  else process.stderr.write(`spinn: ${err.message} (line skipped: --lenient)\n`);
}

/** The closing note of a lenient run that skipped lines (stderr), e.g. "2 of 5 lines skipped". */
export function lenientSummary(skipped: number, total: number): void {
  if (skipped === 0) return;
  process.stderr.write(`spinn: ${skipped} of ${total} lines skipped as invalid (--lenient)\n`);
}

/** The hint shown when a command waits for lines typed at a terminal, or null when not on one. */
export function terminalHint(
  input: string,
  stdinIsTTY: boolean | undefined,
  what: string,
  flag = "--input",
): string | null {
  if (input !== STDIN || !stdinIsTTY) return null;
  return `spinn: reading ${what} from the terminal, one per line; end with Ctrl-D (or give ${flag} FILE)\n`;
}
