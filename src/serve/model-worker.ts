// The model worker: a worker thread that holds the loaded models and runs the batches the
// server gathers, so that the server's event loop never waits for libtorch (health checks and
// metrics answer while a large batch runs). The addon is context-aware (per-thread instance
// data; its live-tensor table is process-wide behind a mutex), so it loads here as in the main
// thread. A gathered batch runs at once, from start to end; the models that can (ModelInfo.rolling)
// also keep a rolling batch (src/inference/rolling-batch.ts) that items join whenever they come
// and leave as soon as they are done: it takes one transition step at a time, and between steps
// the worker takes its messages, so new items join at the next step. A server with several
// workers (worker-pool.ts) runs several batches at once, each worker then on one BLAS thread
// (the setting is process-wide).
import { parentPort } from "node:worker_threads";
import { snakeKeys } from "../cli/json-output.js";
import { DataError } from "../data/errors.js";
import type { Device } from "../engine/dtype.js";
import { releaseFreeMemory, scope } from "../engine/index.js";
import {
  classify,
  inputExamples,
  type PairInput,
  parse,
  predictListOps,
  presentAnswer,
} from "../inference/raw-input.js";
import { RollingBatch, rollingUnsupported } from "../inference/rolling-batch.js";
import { predictsTransitions } from "../models/kinds.js";
import { type LoadedModel, loadModelDir } from "../models/model-dir.js";
import { sizesOf } from "../models/sizes.js";
import { labelNames, sidesOf } from "../tasks/task.js";
import { IdleRelease } from "./idle-release.js";
import type { FromWorker, GroupOutcome, JobDone, ModelInfo, ToWorker } from "./protocol.js";

const port = parentPort;
if (!port) throw new Error("model-worker.ts runs as a worker thread (see model-runner.ts)");
const models = new Map<string, LoadedModel>();
/** The rolling batch of each model that has one, and the jobs in it. */
const rolling = new Map<string, { batch: RollingBatch; jobs: Set<RollingJob> }>();

type RunMessage = Extract<ToWorker, { type: "run" }>;

/** A job whose items are in a rolling batch: answered once all of them are done. */
interface RollingJob {
  id: number;
  outcomes: GroupOutcome[];
  remaining: number;
  started: number;
  /** The rolling batch's counters when the job joined, for its mean batch. */
  steps: number;
  exampleSteps: number;
}

/** The memory of the worker's batches goes back to the OS after a second without work. */
const IDLE_RELEASE_MS = 1000;
const idleRelease = new IdleRelease(releaseIdleMemory, IDLE_RELEASE_MS);

/** A new, empty rolling batch for a model, in place of the one it had. */
function renewRollingBatch(name: string): void {
  const loaded = models.get(name)!;
  rolling.set(name, { batch: new RollingBatch(loaded.model, loaded.vocab), jobs: new Set() });
}

/**
 * What an idle worker gives back: each empty rolling batch starts again at its initial size (its
 * state memory grows to the largest load it held and never shrinks), then the allocators' free
 * pages go back to the OS.
 */
function releaseIdleMemory(): void {
  for (const [name, entry] of rolling) {
    if (entry.batch.size !== 0) continue;
    entry.batch.dispose();
    renewRollingBatch(name);
  }
  releaseFreeMemory();
}

/** Seconds spent running models (batches and rolling steps), sent with every answer. */
let busy = 0;

function send(message: DistributiveOmit<FromWorker, "busy">): void {
  port!.postMessage({ ...message, busy });
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function describe(name: string, loaded: LoadedModel): Omit<ModelInfo, "card"> {
  const config = loaded.model.config;
  return {
    name,
    task: config.task,
    encoder: config.encoder,
    parses: predictsTransitions(config.encoder),
    rolling: rolling.has(name),
    labels: labelNames(config.task),
    sizes: snakeKeys({
      vocabSize: config.vocabSize,
      ...sizesOf(config),
      // A separate parser's sizes (parser.ts), beside the composer's.
      ...(config.parser
        ? {
            parserHidden: config.parser.dHidden,
            parserTracker: config.parser.dTracker,
            composerTracker: config.composerTracker ?? 0,
          }
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
    if (message.rolling) {
      for (const [name, loaded] of models) {
        if (rollingUnsupported(loaded.model) === null) renewRollingBatch(name);
      }
    }
  } catch (err) {
    send({ type: "load-failed", message: (err as Error).message });
    return;
  }
  const infos = [...models].map(([name, loaded]) => describe(name, loaded));
  send({ type: "loaded", models: infos });
}

/** The model's answers for the items, through the library's raw-input calls. */
function runItems(loaded: LoadedModel, job: RunMessage, items: unknown[]): unknown[] {
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
function runGroups(loaded: LoadedModel, job: RunMessage): GroupOutcome[] {
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

function run(job: RunMessage): void {
  const started = performance.now();
  try {
    const loaded = models.get(job.model);
    if (!loaded) throw new Error(`no model named ${job.model} in the worker`);
    const outcomes = runGroups(loaded, job);
    const seconds = (performance.now() - started) / 1000;
    busy += seconds;
    send({ type: "done", id: job.id, outcomes, seconds, batch: job.items.length });
  } catch (err) {
    send({ type: "failed", id: job.id, message: (err as Error).message });
  }
}

/**
 * Puts a job's items into its model's rolling batch. Each slice's items are read and checked
 * first: a slice with a bad item fails alone, without joining.
 */
function admit(job: RunMessage): void {
  const loaded = models.get(job.model);
  const entry = rolling.get(job.model);
  if (!loaded || !entry) {
    send({
      type: "failed",
      id: job.id,
      message: `no rolling batch for a model named ${job.model} in the worker`,
    });
    return;
  }
  if (job.job === "parse") {
    send({ type: "failed", id: job.id, message: "parse jobs do not run in a rolling batch" });
    return;
  }
  const state: RollingJob = {
    id: job.id,
    outcomes: [],
    remaining: 0,
    started: performance.now(),
    steps: entry.batch.steps,
    exampleSteps: entry.batch.exampleSteps,
  };
  const call = job.job === "classify" ? "classify" : "predictListOps";
  let at = 0;
  const joining: (() => void)[] = [];
  for (const size of job.groups) {
    const items = job.items.slice(at, at + size);
    at += size;
    let examples: ReturnType<typeof inputExamples>;
    try {
      examples = inputExamples(loaded, call, items, job.limits);
    } catch (err) {
      if (!(err instanceof DataError) || err.line < 1) throw err;
      state.outcomes.push({ ok: false, index: err.line - 1, field: err.field, detail: err.detail });
      continue;
    }
    const results: unknown[] = new Array(examples.length);
    state.outcomes.push({ ok: true, results });
    state.remaining += examples.length;
    examples.forEach((ex, i) => {
      joining.push(() =>
        entry.batch.add(
          sidesOf(ex).map(([, sentence]) => sentence),
          ({ probabilities, trees }) => {
            results[i] = presentAnswer(loaded, ex, probabilities, trees);
            if (--state.remaining === 0) finish(entry, state);
          },
        ),
      );
    });
  }
  if (state.remaining === 0) {
    finish(entry, state);
    sendFinished();
    return;
  }
  entry.jobs.add(state);
  for (const join of joining) join();
  void roll();
}

/** Rolling jobs answered since the last message to the server. */
let finished: JobDone[] = [];

function finish(entry: { batch: RollingBatch; jobs: Set<RollingJob> }, job: RollingJob): void {
  entry.jobs.delete(job);
  const steps = entry.batch.steps - job.steps;
  const batch = steps > 0 ? (entry.batch.exampleSteps - job.exampleSteps) / steps : 0;
  const seconds = (performance.now() - job.started) / 1000;
  finished.push({ id: job.id, outcomes: job.outcomes, seconds, batch });
}

/** Sends the answers of the jobs finished since the last call, in one message. */
function sendFinished(): void {
  if (finished.length === 0) return;
  send({ type: "done-many", jobs: finished });
  finished = [];
}

let rollingNow = false;

/**
 * Steps every rolling batch that holds items until none does, taking the worker's messages
 * between steps (new items join at the next). A step that fails fails every job in its batch,
 * and the model gets a new, empty rolling batch.
 */
async function roll(): Promise<void> {
  if (rollingNow) return;
  rollingNow = true;
  try {
    for (;;) {
      let held = false;
      for (const [name, entry] of rolling) {
        if (entry.batch.size === 0) continue;
        held = true;
        const started = performance.now();
        try {
          scope(() => entry.batch.step());
          busy += (performance.now() - started) / 1000;
        } catch (err) {
          const message = (err as Error).message;
          for (const job of entry.jobs) send({ type: "failed", id: job.id, message });
          entry.batch.dispose();
          renewRollingBatch(name);
        }
      }
      sendFinished();
      if (!held) {
        idleRelease.idle();
        return;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    rollingNow = false;
  }
}

port.on("message", (message: ToWorker) => {
  idleRelease.busy();
  if (message.type === "load") load(message);
  else if (!message.rolling) run(message);
  else {
    try {
      admit(message);
    } catch (err) {
      send({ type: "failed", id: message.id, message: (err as Error).message });
    }
  }
  // A rolling batch still running schedules the release when it empties (roll()).
  if (!rollingNow) idleRelease.idle();
});
