// Reading a command's input (a file, or stdin) line by line in batches: predict and parse turn
// each non-empty line into an item and handle the items batchSize at a time, so output starts
// before the input ends and memory stays bounded. Lines are split from the raw bytes here (not
// by readline, which buffers a whole line however long it is): a line over the byte limit is an
// error as soon as the limit is passed, without reading the rest of it.
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { type InputLimits, lineTooLong } from "../inference/input-limits.js";
import { fileFlag } from "./flags.js";

const NEWLINE = 0x0a;
const CR = 0x0d;

/** An --input flag: a file (checked), or stdin when not given or "-" (undefined). */
export function inputFlag(value: string | undefined, flag = "--input"): string | undefined {
  return value === "-" ? undefined : fileFlag(value, flag);
}

export async function forEachLineBatch<T>(
  input: string | undefined,
  batchSize: number,
  item: (line: string, lineNo: number) => T,
  handle: (items: T[]) => void,
  limits: Pick<InputLimits, "maxLineBytes">,
): Promise<void> {
  const file = input ?? "<stdin>";
  let pending: T[] = [];
  let lineNo = 0;
  const tooLong = (n: number): never => {
    throw lineTooLong(file, n, limits.maxLineBytes);
  };
  const stream = input ? createReadStream(input) : process.stdin;
  for await (const line of lines(stream, tooLong, limits.maxLineBytes)) {
    lineNo++;
    if (line.trim() === "") continue;
    pending.push(item(line, lineNo));
    if (pending.length >= batchSize) {
      handle(pending);
      pending = [];
    }
  }
  if (pending.length > 0) handle(pending);
}

/**
 * The lines of a byte stream (UTF-8, "\n" or "\r\n"; a last line without a break counts). At
 * most maxBytes of one line are held: past that `tooLong(lineNo)` is called, which throws.
 */
export async function* lines(
  stream: Readable,
  tooLong: (lineNo: number) => never,
  maxBytes: number,
): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  let held = 0;
  let lineNo = 0;
  const take = (tail: Buffer): string => {
    parts.push(tail);
    let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    parts = [];
    held = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    return bytes.toString("utf8");
  };
  // Leaving the loop early (an error, a break) destroys the stream: nothing more is read.
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    let start = 0;
    for (let nl = buf.indexOf(NEWLINE); nl >= 0; nl = buf.indexOf(NEWLINE, start)) {
      lineNo++;
      // A "\r" before the "\n" is not part of the line, so it does not count against the limit.
      const crlf = nl > 0 ? buf[nl - 1] === CR : parts.length > 0 && endsWithCr(parts);
      if (held + (nl - start) - (crlf ? 1 : 0) > maxBytes) tooLong(lineNo);
      yield take(buf.subarray(start, nl));
      start = nl + 1;
    }
    const rest = buf.subarray(start);
    held += rest.length;
    // One byte of slack: the rest may end with the "\r" of a "\r\n" split across chunks.
    if (held > maxBytes + 1) tooLong(lineNo + 1);
    if (rest.length > 0) parts.push(rest);
  }
  if (held > 0) {
    if (held - (endsWithCr(parts) ? 1 : 0) > maxBytes) tooLong(lineNo + 1);
    yield take(Buffer.alloc(0));
  }
}

function endsWithCr(parts: Buffer[]): boolean {
  const last = parts[parts.length - 1]!;
  return last[last.length - 1] === CR;
}
