// The training loop: set the run up, then epoch after epoch take the seeded length-bucketed
// batches, run one training step on each, evaluate on dev every N steps (keeping the best model),
// checkpoint so that a resumed run continues exactly, decay the learning rate per epoch and stop
// early when dev accuracy stops improving. The loop reports through hooks; it never prints.
import { existsSync } from "node:fs";
import { trainingBatches } from "../data/batching.js";
import { checkDevice, DistributedError, manualSeed, type ProcessGroup } from "../engine/index.js";
import { batchFor, lengthKeys } from "../tasks/task.js";
import { crashPoint } from "../util/test-hooks.js";
import { DataParallel } from "./data-parallel.js";
import { DivergenceError, parametersFinite } from "./divergence.js";
import { absolutePaths, curriculumLength, resumedOptions, type TrainOptions } from "./options.js";
import { policyPasses } from "./ppo.js";
import { ReadOnlyRunDirectory, RunDirectory } from "./run-directory.js";
import { type EvalReport, RunState } from "./run-state.js";
import { setUpRun } from "./setup.js";
import { trainStep } from "./step.js";

export type { EvalReport } from "./run-state.js";

export interface StepReport {
  step: number;
  epoch: number;
  batchInEpoch: number;
  batchesInEpoch: number;
  loss: number;
  accuracy: number;
  lr: number;
  examplesPerSecond: number;
}

export interface TrainHooks {
  onStep?(r: StepReport): void;
  onEval?(r: EvalReport): void;
  log?(message: string): void;
  /** Checked after every step: when aborted, the run checkpoints and returns. */
  signal?: AbortSignal;
}

export interface TrainResult {
  out: string;
  steps: number;
  epochs: number;
  bestDevAccuracy: number | null;
  bestStep: number | null;
  interrupted: boolean;
  stoppedEarly: boolean;
  seconds: number;
  trainExamples: number;
  devExamples: number;
  /** Processes that trained the run together (data-parallel; 1 alone). */
  workers: number;
  vocabularySize: number;
  parameters: number;
  embeddings?: { found: number; coverage: number; missing: string[] };
}

/** Why an epoch ended before its last batch (null: it ran to the end). */
type Stop = "interrupted" | "early" | "max-steps" | null;

/** The run's saved options, if `out` holds a checkpoint. */
export function savedRunOptions(out: string): TrainOptions | null {
  return new RunDirectory(out).savedState()?.options ?? null;
}

/**
 * Trains (or, with resume, continues) the run in options.out, holding the directory's lock
 * throughout. Resuming re-reads the data files named in the saved options and continues from the
 * rolling checkpoint exactly; options that contradict the saved run are refused (ResumeError).
 *
 * With a process `group`, this process is one rank of a data-parallel run (data-parallel.ts):
 * rank 0 holds the lock and writes; the others read the run directory and write nothing.
 */
export async function train(
  options: TrainOptions,
  hooks: TrainHooks = {},
  resume = false,
  group: ProcessGroup | null = null,
): Promise<TrainResult> {
  const log = hooks.log ?? (() => {});
  checkDevice(options.device);
  const leader = (group?.rank ?? 0) === 0;
  const dir = leader ? new RunDirectory(options.out) : new ReadOnlyRunDirectory(options.out);
  const created = leader && !resume && !existsSync(options.out);
  const lock = leader ? dir.lock(!resume, log) : null;
  try {
    // Rank 0 has taken the directory and tidied what a crash left before the others read it.
    group?.barrier();
    return await trainLocked(dir, options, hooks, resume, group);
  } finally {
    lock?.release();
    // A new run refused before it wrote anything (bad data) leaves no directory behind.
    if (created) dir.removeIfEmpty();
  }
}

async function trainLocked(
  dir: RunDirectory,
  options: TrainOptions,
  hooks: TrainHooks,
  resume: boolean,
  group: ProcessGroup | null,
): Promise<TrainResult> {
  const started = Date.now();
  const log = hooks.log ?? (() => {});
  const saved = resume ? dir.resumeState() : null;
  const o = saved ? resumedOptions(saved.options, options) : absolutePaths(options);
  manualSeed(o.seed);
  const setup = await setUpRun(o, saved ? dir.checkpointDir() : null, log);
  const run = new RunState(setup, dir, saved, group ? new DataParallel(group, setup.model) : null);
  // Said once the whole checkpoint has loaded: a damaged one is then one error line alone.
  if (saved) log(`resuming ${o.out} at step ${saved.step} (epoch ${saved.epoch + 1})`);
  let stop: Stop = null;
  const parameters = setup.model.store.countTrainable();
  try {
    while (stop === null && run.progress.epoch < o.epochs) stop = await trainEpoch(run, hooks);
    // The last state, unless the last step was just checkpointed (or the run was interrupted,
    // which checkpoints at once).
    if (stop !== "interrupted" && !run.checkpointed) checkpoint(run);
  } catch (err) {
    if (err instanceof DistributedError) throw workerLost(run, err);
    throw err instanceof DivergenceError ? diverged(run, err) : err;
  } finally {
    run.optimizer.dispose();
    setup.model.dispose();
  }
  const best = run.progress.best;
  return {
    out: o.out,
    steps: run.progress.step,
    epochs: run.progress.epoch,
    bestDevAccuracy: best?.devAccuracy ?? null,
    bestStep: best?.step ?? null,
    interrupted: stop === "interrupted",
    stoppedEarly: stop === "early",
    seconds: (Date.now() - started) / 1000,
    trainExamples: setup.trainData.examples.length,
    devExamples: setup.devData.examples.length,
    workers: group?.worldSize ?? 1,
    vocabularySize: setup.vocab.size,
    parameters,
    ...(setup.embeddings ? { embeddings: setup.embeddings } : {}),
  };
}

/** Trains the rest of the current epoch (all of it, or what a resumed run had left). */
async function trainEpoch(run: RunState, hooks: TrainHooks): Promise<Stop> {
  const { options: o, progress: p, setup } = run;
  // The epoch's batches come from the batch RNG's state at the epoch's start, so a resumed run
  // re-derives exactly the batches it was in the middle of.
  if (p.batchInEpoch === 0) p.epochRng = run.batchRng.getState();
  else run.batchRng.setState(p.epochRng);
  const longest = curriculumLength(o.curriculum, p.epoch);
  const batches = trainingBatches(lengthKeys(setup.trainData), {
    batchSize: o.batchSize,
    rng: run.batchRng,
    ...(o.batchTokens > 0 ? { batchTokens: o.batchTokens } : {}),
    ...(longest === Number.POSITIVE_INFINITY ? {} : { longest }),
  });

  run.optimizer.lr = o.lr * o.lrDecay ** p.epoch;
  const meter = new Throughput();
  while (p.batchInEpoch < batches.length) {
    const plan = batches[p.batchInEpoch]!;
    crashPoint(`step-rank${run.parallel?.rank ?? 0}`);
    const { batch, part } = run.parallel
      ? run.parallel.part(setup.trainData, plan, setup.vocab)
      : { batch: batchFor(setup.trainData, plan, setup.vocab), part: null };
    run.objective.step = p.step;
    const result = trainStep(run.model, run.optimizer, run.objective, batch, o.clip, part);
    policyPasses(run.model, run.optimizer, run.objective, o);
    run.countStep(result);
    const report = stepReport(run, batches.length, meter.count(result.examples));
    hooks.onStep?.(report);
    if (p.step % 50 === 0) record(run, "train", report, p.epoch + 1);
    const epochDone = p.batchInEpoch === batches.length;
    if (epochDone) {
      record(run, "epoch", report, p.epoch + 1);
      run.endEpoch();
    }
    const evalNow = o.evalEvery > 0 ? p.step % o.evalEvery === 0 : epochDone;
    if (evalNow) {
      requireFiniteParameters(run);
      const { report: evalReport, patienceSpent } = run.evaluate(epochDone ? p.epoch : p.epoch + 1);
      hooks.onEval?.(evalReport);
      run.checkpoint();
      if (patienceSpent) {
        hooks.log?.(`early stop: no better dev accuracy in ${o.patience} evaluations`);
        return "early";
      }
    }
    // Let signal handlers (Ctrl-C) run: the step itself never yields to the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    // Data-parallel, all ranks stop at the same step when any of them was interrupted.
    const here = hooks.signal?.aborted ?? false;
    const interrupted = run.parallel ? run.parallel.anyRank(here) : here;
    if (interrupted || (o.maxSteps > 0 && p.step >= o.maxSteps)) {
      if (!evalNow) checkpoint(run);
      return interrupted ? "interrupted" : "max-steps";
    }
    if (epochDone) return null;
  }
  return null;
}

/**
 * A step's DivergenceError with the step's number and the run directory, recorded in the
 * metrics. Nothing else is written: the checkpoints on disk are the last good ones.
 */
function diverged(run: RunState, err: DivergenceError): DivergenceError {
  // A parameter check names the step it ran after; a step's own check, the step it was running.
  const step = err.quantity === "parameters" ? err.step : run.progress.step + 1;
  run.record({ type: "diverged", step, epoch: run.progress.epoch + 1, quantity: err.quantity });
  const saved = run.dir.savedState();
  const kept = saved
    ? `the checkpoint of step ${saved.step} in ${run.dir.last}${run.progress.best ? ` and the best model in ${run.dir.best}` : ""}`
    : "nothing (no checkpoint was written before it)";
  return new DivergenceError(step, err.quantity, err.value, kept);
}

/**
 * A lost worker (or a collective that timed out) as one line: what this rank saw, and the
 * checkpoint that --resume continues from. Nothing else is written.
 */
function workerLost(run: RunState, err: DistributedError): DistributedError {
  let saved: number | null = null;
  try {
    saved = run.dir.savedState()?.step ?? null;
  } catch {
    // A checkpoint being written when rank 0 was lost: the one before it is what remains.
  }
  const kept =
    saved === null
      ? "no checkpoint was written yet"
      : `the last checkpoint is step ${saved} in ${run.dir.last} (continue with --resume)`;
  return new DistributedError(`${err.message}; ${kept}`, err.lostRanks);
}

/**
 * Parameters can become infinite in an update whose gradients were finite (a huge learning
 * rate); the next step's loss would show it, but an evaluation or a checkpoint in between must
 * not keep such a model. One read-back per evaluation or checkpoint, not per step.
 */
function requireFiniteParameters(run: RunState): void {
  if (!parametersFinite(run.optimizer.params)) {
    throw new DivergenceError(run.progress.step, "parameters", Number.NaN);
  }
}

function checkpoint(run: RunState): void {
  requireFiniteParameters(run);
  run.checkpoint();
}

function stepReport(run: RunState, batchesInEpoch: number, examplesPerSecond: number): StepReport {
  const p = run.progress;
  // After the epoch's last batch the totals still describe it (endEpoch resets them later).
  return {
    step: p.step,
    epoch: p.epoch,
    batchInEpoch: p.batchInEpoch,
    batchesInEpoch,
    loss: p.epochTotals.lossSum / p.epochTotals.examples,
    accuracy: p.epochTotals.correct / p.epochTotals.examples,
    lr: run.optimizer.lr,
    examplesPerSecond,
  };
}

function record(run: RunState, type: "train" | "epoch", r: StepReport, epoch: number): void {
  const entry = { type, step: r.step, epoch, loss: r.loss, accuracy: r.accuracy };
  run.record(type === "train" ? { ...entry, lr: r.lr } : entry);
}

/** Examples per second since this epoch (or this process) started: steadier than per batch. */
class Throughput {
  private readonly started = Date.now();
  private examples = 0;

  count(examples: number): number {
    this.examples += examples;
    return (this.examples * 1000) / Math.max(1, Date.now() - this.started);
  }
}
