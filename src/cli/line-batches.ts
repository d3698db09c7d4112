// Reading a command's input (a file, or stdin) line by line in batches: predict and parse turn
// each non-empty line into an item and handle the items batchSize at a time, so output starts
// before the input ends and memory stays bounded.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

export async function forEachLineBatch<T>(
  input: string | undefined,
  batchSize: number,
  item: (line: string, lineNo: number) => T,
  handle: (items: T[]) => void,
): Promise<void> {
  const lines = createInterface({
    input: input ? createReadStream(input) : process.stdin,
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let pending: T[] = [];
  let lineNo = 0;
  for await (const line of lines) {
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
