// The model worker: a worker thread that holds the loaded models and runs the batches the
// server gathers, so that the server's event loop never waits for libtorch (health checks and
// metrics answer while a large batch runs). The addon is context-aware (per-thread instance
// data; its live-tensor table is process-wide behind a mutex), so it loads here as in the main
// thread. One batch at a time; a server with several workers (worker-pool.ts) runs several
// batches at once, each worker then on one BLAS thread (the setting is process-wide).
import { parentPort } from "node:worker_threads";
import { snakeKeys } from "../cli/json-output.js";
import { DataError } from "../data/errors.js";
import type { Device } from "../engine/dtype.js";
import { scope } from "../engine/index.js";
import { classify, type PairInput, parse, predictListOps } from "../inference/raw-input.js";
import { predictsTransitions } from "../models/kinds.js";
import { type LoadedModel, loadModelDir } from "../models/model-dir.js";
import { sizesOf } from "../models/sizes.js";
import { labelNames } from "../tasks/task.js";
import type { FromWorker, GroupOutcome, ModelInfo, ToWorker } from "./protocol.js";

const port = parentPort;
if (!port) throw new Error("model-worker.ts runs as a worker thread (see model-runner.ts)");
const models = new Map<string, LoadedModel>();

function send(message: FromWorker): void {
  port!.postMessage(message);
}

function describe(name: string, loaded: LoadedModel): Omit<ModelInfo, "card"> {
  const config = loaded.model.config;
  return {
    name,
    task: config.task,
    encoder: config.encoder,
    parses: predictsTransitions(config.encoder),
    labels: labelNames(config.task),
    sizes: snakeKeys({
      vocabSize: config.vocabSize,
      ...sizesOf(config),
      // A separate parser's sizes (parser.ts), beside the composer's.
      ...(config.parser
        ? { parserHidden: config.parser.dHidden, parserTracker: config.parser.dTracker }
        : {}),
    }) as Record<string, number>,
  };
}

function load(message: Extract<ToWorker, { type: "load" }>): void {
  try {
    // In a scope, so that the loader's temporaries are freed now rather than whenever the garbage
    // collector finds them: the live-tensor count the metrics report is then exact.
    for (const { name, dir } of message.models)
      models.set(
        name,
        scope(() => loadModelDir(dir, message.device as Device)),
      );
  } catch (err) {
    send({ type: "load-failed", message: (err as Error).message });
    return;
  }
  const infos = [...models].map(([name, loaded]) => describe(name, loaded));
  send({ type: "loaded", models: infos });
}

/** The model's answers for the items, through the library's raw-input calls. */
function runItems(loaded: LoadedModel, job: Extract<ToWorker, { type: "run" }>, items: unknown[]): unknown[] {
  const options = { limits: job.limits, batchSize: items.length };
  if (job.job === "classify") return classify(loaded, items as PairInput[], options);
  if (job.job === "listops") return predictListOps(loaded, items as string[], options);
  return parse(loaded, items as string[], options).map((p) => ({ ...p, transitions: [...p.transitions] }));
}

/**
 * Runs a batch made of several requests' slices. Raw input is checked item by item before the
 * model runs, so a bad item (a DataError naming its 1-based position) costs no model time: its
 * slice fails alone and the batch runs again without it.
 */
function runGroups(loaded: LoadedModel, job: Extract<ToWorker, { type: "run" }>): GroupOutcome[] {
  const starts = job.groups.map((_, g) => job.groups.slice(0, g).reduce((a, b) => a + b, 0));
  const outcomes: (GroupOutcome | null)[] = job.groups.map(() => null);
  for (;;) {
    const live = job.groups.flatMap((_, g) => (outcomes[g] === null ? [g] : []));
    if (live.length === 0) return outcomes as GroupOutcome[];
    const items = live.flatMap((g) => job.items.slice(starts[g]!, starts[g]! + job.groups[g]!));
    try {
      // Results are plain data: the scope frees every tensor the batch made, whatever path made it.
      const results = scope(() => runItems(loaded, job, items));
      let at = 0;
      for (const g of live) {
        outcomes[g] = { ok: true, results: results.slice(at, at + job.groups[g]!) };
        at += job.groups[g]!;
      }
    } catch (err) {
      if (!(err instanceof DataError) || err.line < 1) throw err;
      // The bad item's slice: the live slice whose items cover position err.line − 1.
      let index = err.line - 1;
      let k = 0;
      while (index >= job.groups[live[k]!]!) index -= job.groups[live[k++]!]!;
      outcomes[live[k]!] = { ok: false, index, field: err.field, detail: err.detail };
    }
  }
}

function run(job: Extract<ToWorker, { type: "run" }>): void {
  const started = performance.now();
  try {
    const loaded = models.get(job.model);
    if (!loaded) throw new Error(`no model named ${job.model} in the worker`);
    const outcomes = runGroups(loaded, job);
    const seconds = (performance.now() - started) / 1000;
    send({ type: "done", id: job.id, outcomes, seconds });
  } catch (err) {
    send({ type: "failed", id: job.id, message: (err as Error).message });
  }
}

port.on("message", (message: ToWorker) => {
  if (message.type === "load") load(message);
  else run(message);
});
