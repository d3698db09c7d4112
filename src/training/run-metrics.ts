// Reading a run's metrics.jsonl for display (the web page's runs view, `spinn plot`), checked
// line by line with the project's readers, while the run may still be training: the last line
// can be torn (an append in progress, or a kill during one) and is then left out, as a resume
// would drop it. Lines written before metrics carried timestamps are accepted without them.
import { readFileSync } from "node:fs";
import path from "node:path";
import { CheckpointError, Fields } from "../util/checked-json.js";

export type MetricsEntry =
  | (Stamp & {
      type: "train";
      step: number;
      epoch: number;
      loss: number | null;
      accuracy: number;
      lr: number;
    })
  | (Stamp & { type: "epoch"; step: number; epoch: number; loss: number | null; accuracy: number })
  | (Stamp & { type: "eval"; step: number; epoch: number; dev_accuracy: number; best: boolean })
  | (Stamp & { type: "diverged"; step: number; epoch: number; quantity: string });

/** When a line was written: absent on lines from before metrics carried timestamps. */
interface Stamp {
  time?: string;
  elapsed_seconds?: number;
}

export interface RunMetrics {
  file: string;
  entries: MetricsEntry[];
  /** Whether an incomplete last line (an append in progress) was left out. */
  tornLastLine: boolean;
}

const TYPES = ["train", "epoch", "eval", "diverged"] as const;

/** Reads and checks `run`/metrics.jsonl; a missing or bad file is a CheckpointError naming file:line. */
export function readRunMetrics(run: string): RunMetrics {
  const file = path.join(run, "metrics.jsonl");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file (not a training run?)" : `cannot read (${code})`;
    throw new CheckpointError(`${file}: ${why}`);
  }
  const lines = text.split("\n");
  // Every entry ends with a newline: whatever follows the last one is an append in progress.
  const tornLastLine = lines.pop() !== "";
  const entries = lines.map((line, i) => checkEntry(line, `${file}:${i + 1}`));
  return { file, entries, tornLastLine };
}

function checkEntry(line: string, where: string): MetricsEntry {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new CheckpointError(`${where}: not a JSON line (the metrics file is corrupted)`);
  }
  const f = new Fields(json, where);
  const type = f.oneOf("type", TYPES);
  f.int("step");
  f.int("epoch");
  if (type === "train" || type === "epoch") {
    // A diverged epoch's mean loss is NaN, which JSON writes as null.
    if (f.object.loss !== null) f.number("loss");
    f.number("accuracy");
    if (type === "train") f.number("lr");
  } else if (type === "eval") {
    f.number("dev_accuracy");
    f.boolean("best");
  } else {
    f.string("quantity");
  }
  if (f.has("time") && Number.isNaN(Date.parse(f.string("time"))))
    f.fail("time", "expected an ISO date and time", f.object.time);
  if (f.has("elapsed_seconds") && f.number("elapsed_seconds") < 0)
    f.fail("elapsed_seconds", "expected a number >= 0", f.object.elapsed_seconds);
  return json as MetricsEntry;
}

/** The step of the best model kept in best/: the last evaluation that improved on all before it. */
export function bestEval(entries: readonly MetricsEntry[]): Extract<MetricsEntry, { type: "eval" }> | null {
  let best: Extract<MetricsEntry, { type: "eval" }> | null = null;
  for (const e of entries) if (e.type === "eval" && e.best) best = e;
  return best;
}
