// One entry point for "read this data file, whatever it is": detects NLI (jsonl or tab-separated)
// or ListOps from the file, so that commands such as `spinn data stats` take any of them.

import { DataError } from "./errors.js";
import { readFirstLine } from "./lines.js";
import { type ListOpsReadResult, readListOps } from "./listops.js";
import { type NliReadResult, readNli } from "./nli.js";

export type DatasetFormat = "nli-jsonl" | "nli-txt" | "listops";
export const DATASET_FORMATS: readonly DatasetFormat[] = ["nli-jsonl", "nli-txt", "listops"];

export type Dataset =
  | { task: "nli"; format: "nli-jsonl" | "nli-txt"; result: NliReadResult }
  | { task: "listops"; format: "listops"; result: ListOpsReadResult };

/**
 * Guesses the format: .jsonl/.json or a first line starting with "{" is NLI jsonl; a first line
 * naming a gold_label column is NLI tab-separated; "digit<TAB>..." is ListOps.
 */
export async function detectFormat(file: string): Promise<DatasetFormat> {
  if (/\.jsonl?$/i.test(file)) return "nli-jsonl";
  const first = (await readFirstLine(file)).trim();
  if (first.startsWith("{")) return "nli-jsonl";
  if (first.split("\t").includes("gold_label")) return "nli-txt";
  if (/^\d\t/.test(first)) return "listops";
  throw new DataError(
    file,
    first === "" ? 0 : 1,
    undefined,
    `cannot tell the format (${first === "" ? "empty file" : "not NLI jsonl, NLI tab-separated with a header, or ListOps 'label<TAB>expression'"}); name it explicitly`,
  );
}

export interface ReadDatasetOptions {
  format?: DatasetFormat;
  lenient?: boolean;
  maxKeptErrors?: number;
}

export async function readDataset(file: string, options: ReadDatasetOptions = {}): Promise<Dataset> {
  const format = options.format ?? (await detectFormat(file));
  const common = {
    lenient: options.lenient ?? false,
    ...(options.maxKeptErrors === undefined ? {} : { maxKeptErrors: options.maxKeptErrors }),
  };
  if (format === "listops") return { task: "listops", format, result: await readListOps(file, common) };
  const result = await readNli(file, { ...common, format: format === "nli-jsonl" ? "jsonl" : "txt" });
  return { task: "nli", format, result };
}

/** Every sentence's tokens, for building a vocabulary. */
export function* sentencesOf(dataset: Dataset): Generator<string[]> {
  if (dataset.task === "listops") {
    for (const ex of dataset.result.examples) yield ex.sentence.tokens;
  } else {
    for (const ex of dataset.result.examples) {
      yield ex.premise.tokens;
      yield ex.hypothesis.tokens;
    }
  }
}
