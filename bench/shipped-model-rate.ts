// A shipped model's offline rate on its own test sample, through the library's raw-input calls:
// shared by bench/serve.ts (the rate the server is compared with) and bench/eval-rate.ts.
import { readFileSync } from "node:fs";
import path from "node:path";
import { classify, inputExamples, predictListOps } from "../src/inference/raw-input.js";
import { RollingBatch } from "../src/inference/rolling-batch.js";
import { loadModelDir } from "../src/models/model-dir.js";
import { pretrainedDir } from "../src/models/pretrained.js";
import { sidesOf } from "../src/tasks/task.js";
import { itemsPerSecond } from "./items-per-second.js";

export type Item = { premise: string; hypothesis: string } | { expression: string };

/** The shipped sample of a model's test set, as request items. */
export function itemsOf(name: string): Item[] {
  const dir = pretrainedDir(name);
  if (name.startsWith("snli")) {
    return readFileSync(path.join(dir, "sample.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { sentence1: string; sentence2: string })
      .map((r) => ({ premise: r.sentence1, hypothesis: r.sentence2 }));
  }
  return readFileSync(path.join(dir, "sample.tsv"), "utf8")
    .trim()
    .split("\n")
    .map((l) => ({ expression: l.split("\t")[1]! }));
}

/**
 * Items per second of the library on the items, for about `seconds`: 1,024 items per call in
 * batches of `batchSize` (sorted by length within the call, as `spinn eval` batches), or with
 * `perCall` = the batch size, calls of consecutive items in arrival order, the batches a server
 * at full load forms (no sorting across requests: each batch runs as long as its longest item).
 */
export function offlineRate(
  name: string,
  items: Item[],
  options: { batchSize: number; perCall?: number; seconds: number },
): number {
  const loaded = loadModelDir(pretrainedDir(name));
  const { batchSize, perCall = 1024, seconds } = options;
  const rate = itemsPerSecond(items, perCall, seconds, (part) =>
    "premise" in part[0]!
      ? classify(loaded, part as { premise: string; hypothesis: string }[], { batchSize })
      : predictListOps(
          loaded,
          part.map((x) => (x as { expression: string }).expression),
          { batchSize },
        ),
  );
  loaded.model.dispose();
  return rate;
}

/**
 * Items per second of a rolling batch (src/inference/rolling-batch.ts) that always holds
 * `inFlight` items: whenever items are answered, as many join at the next step, as the requests
 * of `inFlight` closed-loop clients would, with no time between answer and next request.
 */
export function rollingRate(
  name: string,
  items: Item[],
  options: { inFlight: number; seconds: number },
): number {
  const loaded = loadModelDir(pretrainedDir(name));
  const examples =
    "premise" in items[0]!
      ? inputExamples(loaded, "classify", items)
      : inputExamples(
          loaded,
          "predictListOps",
          items.map((x) => (x as { expression: string }).expression),
        );
  const rolling = new RollingBatch(loaded.model, loaded.vocab);
  let next = 0;
  let answered = 0;
  const run = (count: number) => {
    const target = answered + count;
    while (answered < target) {
      while (rolling.size < options.inFlight) {
        rolling.add(
          sidesOf(examples[next++ % examples.length]!).map(([, s]) => s),
          () => answered++,
        );
      }
      rolling.step();
    }
  };
  run(1024); // warm-up
  const start = performance.now();
  const from = answered;
  while (performance.now() - start < options.seconds * 1000) run(1024);
  const rate = (answered - from) / ((performance.now() - start) / 1000);
  rolling.dispose();
  loaded.model.dispose();
  return rate;
}
