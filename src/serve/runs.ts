// The runs a web page can show: the run directories (`spinn train --out`) directly inside a runs
// directory, each summed up from its checked files, and one run's metrics by name. A name is a
// directory's own name, never a path: anything else is refused before the file system is asked.
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { RunDirectory } from "../training/run-directory.js";
import { checkUnlocked } from "../training/run-lock.js";
import { bestEval, type RunMetrics, readRunMetrics } from "../training/run-metrics.js";

export interface RunSummary {
  name: string;
  task: string | null;
  model: string | null;
  last_step: number | null;
  best_dev_accuracy: number | null;
  best_step: number | null;
  /** Whether a training process holds the run's lock now. */
  training: boolean;
  /** Time of the last metrics line (null: no line, or lines from before timestamps). */
  updated: string | null;
  /** Why the run could not be read whole (a damaged file), or null. */
  error: string | null;
}

/** A request for a run that is not there (404) or a name that is not a run's name (400). */
export class RunLookupError extends Error {
  constructor(
    readonly statusCode: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}

/** The directory of run `name` in `runsDir`, or a RunLookupError. */
export function runPath(runsDir: string, name: string): string {
  if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name))
    throw new RunLookupError(
      400,
      `run name: expected a directory name in the runs directory, got ${JSON.stringify(name)}`,
    );
  const dir = path.join(runsDir, name);
  if (!existsSync(path.join(dir, "metrics.jsonl")))
    throw new RunLookupError(404, `no run named ${JSON.stringify(name)}`);
  return dir;
}

/** The runs in `runsDir` (directories holding a metrics.jsonl), by name. */
export function listRuns(runsDir: string): RunSummary[] {
  return readdirSync(runsDir)
    .filter((name) => !name.startsWith(".") && existsSync(path.join(runsDir, name, "metrics.jsonl")))
    .filter((name) => statSync(path.join(runsDir, name)).isDirectory())
    .sort()
    .map((name) => summarize(name, path.join(runsDir, name)));
}

function summarize(name: string, dir: string): RunSummary {
  const summary: RunSummary = {
    name,
    task: null,
    model: null,
    last_step: null,
    best_dev_accuracy: null,
    best_step: null,
    training: trainingNow(dir),
    updated: null,
    error: null,
  };
  try {
    // The options are in the rolling checkpoint, which a run has from its first evaluation on.
    const options = new RunDirectory(dir).savedState()?.options;
    if (options) Object.assign(summary, { task: options.task, model: options.model });
    const { entries } = readRunMetrics(dir);
    const last = entries.at(-1);
    const best = bestEval(entries);
    Object.assign(summary, {
      last_step: last?.step ?? null,
      updated: last?.time ?? null,
      best_dev_accuracy: best?.dev_accuracy ?? null,
      best_step: best?.step ?? null,
    });
  } catch (err) {
    summary.error = (err as Error).message;
  }
  return summary;
}

/** Whether a live process holds the run's lock (a dead process's lock does not count). */
function trainingNow(dir: string): boolean {
  try {
    checkUnlocked(dir);
    return false;
  } catch {
    return true;
  }
}

/** Run `name`'s metrics (checked; a torn last line left out). */
export function runMetrics(runsDir: string, name: string): RunMetrics {
  return readRunMetrics(runPath(runsDir, name));
}
