// A training run in progress: the model, its optimizer and objective, where the run stands
// (step, epoch, the batch RNG, running totals, the best dev accuracy), and what it does with
// them besides stepping: evaluate on dev (keeping the best model), checkpoint, and restore from
// a checkpoint so that a resumed run continues exactly (same batches, same dropout draws, same
// optimizer state).
import { Rng } from "../data/rng.js";
import { Adam, getRngState, type Optimizer, RMSprop, SGD, setRngState } from "../engine/index.js";
import { evaluate } from "../inference/evaluate.js";
import type { ClassificationReport } from "../inference/metrics.js";
import type { Model } from "../models/model.js";
import type { DataParallel } from "./data-parallel.js";
import { Objective } from "./objective.js";
import type { TrainOptions } from "./options.js";
import { groupedOptimizer } from "./policy-update.js";
import type { RunDirectory, RunProgress, TrainerState } from "./run-directory.js";
import type { RunSetup } from "./setup.js";
import type { StepResult } from "./step.js";

export interface EvalReport {
  step: number;
  epoch: number;
  devAccuracy: number;
  best: boolean;
  report: ClassificationReport;
}

export class RunState {
  readonly options: TrainOptions;
  readonly optimizer: Optimizer;
  readonly objective: Objective;
  /** The batch order's RNG: each epoch's batches are drawn from its state at the epoch's start. */
  readonly batchRng: Rng;
  readonly progress: RunProgress;
  /** The step of the last checkpoint written by this process (-1: none yet). */
  private savedStep = -1;
  /** Training time of the processes that trained this run before (from the checkpoint). */
  private readonly elapsedBefore: number;
  private readonly startedAt = Date.now();

  constructor(
    readonly setup: RunSetup,
    readonly dir: RunDirectory,
    saved: TrainerState | null,
    /** Data-parallel: this rank's group (null: one process). */
    readonly parallel: DataParallel | null = null,
  ) {
    const o = setup.options;
    if (parallel && o.ppoEpochs > 1)
      throw new Error("--ppo-epochs > 1 trains in one process, not data-parallel");
    this.options = o;
    this.optimizer = makeOptimizer(setup.model, o);
    this.objective = new Objective(o, saved?.rewardAverage ?? null);
    this.batchRng = new Rng(o.seed);
    this.elapsedBefore = saved?.elapsedSeconds ?? 0;
    this.progress = {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      epochRng: this.batchRng.getState(),
      epochTotals: { examples: 0, lossSum: 0, correct: 0 },
      best: null,
      evalsSinceBest: 0,
    };
    if (saved) this.restore(saved);
    else dir.start();
    // Every rank starts from rank 0's weights (the same seed made them already: this makes sure).
    parallel?.requireSameRun({
      "training examples": setup.trainData.examples.length,
      "dev examples": setup.devData.examples.length,
      "the vocabulary's size": setup.vocab.size,
      parameters: setup.model.store.countTrainable(),
      "the resumed step": this.progress.step,
    });
    parallel?.broadcastModel(setup.model);
  }

  get model(): Model {
    return this.setup.model;
  }

  /** Continues from a checkpoint: optimizer state, counters, the batch and engine RNGs, metrics. */
  private restore(saved: TrainerState): void {
    this.dir.restoreOptimizer(this.optimizer, saved);
    const { step, epoch, batchInEpoch, epochRng, epochTotals, best, evalsSinceBest } = saved;
    Object.assign(this.progress, { step, epoch, batchInEpoch, epochRng, epochTotals, best, evalsSinceBest });
    this.batchRng.setState(epochRng);
    setRngState(new Uint8Array(Buffer.from(saved.engineRng, "base64")));
    this.dir.rewindMetrics(step);
  }

  /** Counts a trained batch into the step counter and the epoch's running totals. */
  countStep(r: StepResult): void {
    const p = this.progress;
    p.step++;
    p.batchInEpoch++;
    p.epochTotals.examples += r.examples;
    p.epochTotals.lossSum += r.loss * r.examples;
    p.epochTotals.correct += r.correct;
  }

  /** Closes the current epoch: the next one starts from the batch RNG's state now. */
  endEpoch(): void {
    const p = this.progress;
    p.epoch++;
    p.batchInEpoch = 0;
    p.epochRng = this.batchRng.getState();
    p.epochTotals = { examples: 0, lossSum: 0, correct: 0 };
  }

  /**
   * Evaluates on dev and keeps the model if it is the best so far; `during` is the 1-based
   * epoch the evaluation belongs to. Returns the report and whether patience has run out.
   */
  evaluate(during: number): { report: EvalReport; patienceSpent: boolean } {
    const p = this.progress;
    const { devData, vocab } = this.setup;
    const report = this.parallel
      ? this.parallel.evaluate(this.model, devData, vocab)
      : evaluate(this.model, devData, vocab).report;
    const improved = p.best === null || report.accuracy > p.best.devAccuracy;
    if (improved) {
      p.best = { devAccuracy: report.accuracy, step: p.step, epoch: p.epoch };
      p.evalsSinceBest = 0;
      this.dir.saveBest(this.model, this.setup.vocab, p, report.accuracy);
    } else {
      p.evalsSinceBest++;
    }
    this.record({
      type: "eval",
      step: p.step,
      epoch: during,
      dev_accuracy: report.accuracy,
      best: improved,
    });
    const evalReport = { step: p.step, epoch: p.epoch, devAccuracy: report.accuracy, best: improved, report };
    const patience = this.options.patience;
    return { report: evalReport, patienceSpent: patience > 0 && p.evalsSinceBest >= patience };
  }

  checkpoint(): void {
    this.savedStep = this.progress.step;
    const state: TrainerState = {
      format: "spinn-trainer",
      version: 1,
      options: this.options,
      ...this.progress,
      engineRng: Buffer.from(getRngState()).toString("base64"),
      rewardAverage: this.objective.advantages.average,
      elapsedSeconds: this.elapsedSeconds(),
    };
    this.dir.writeCheckpoint(
      { model: this.model, vocab: this.setup.vocab, optimizer: this.optimizer },
      state,
    );
  }

  /**
   * Seconds spent training this run, summed over the processes that trained it: a resumed run
   * continues the count, and the time between a stop and its resume is not in it.
   */
  elapsedSeconds(): number {
    return this.elapsedBefore + (Date.now() - this.startedAt) / 1000;
  }

  /** Appends one metrics line, stamped with the wall-clock time and the training time so far. */
  record(entry: object): void {
    const elapsed = Math.round(this.elapsedSeconds() * 1000) / 1000;
    this.dir.record({ ...entry, time: new Date().toISOString(), elapsed_seconds: elapsed });
  }

  /** Whether the last step is already in the rolling checkpoint. */
  get checkpointed(): boolean {
    return this.savedStep === this.progress.step;
  }
}

/** The optimizer over the trainable parameters (with `--policy-lr`: two groups, policy-update.ts). */
function makeOptimizer(model: Model, o: TrainOptions): Optimizer {
  return groupedOptimizer(model.store.trainable(), o, (params, lr) => {
    switch (o.optimizer) {
      case "rmsprop":
        return new RMSprop(params, { lr, alpha: 0.9, weightDecay: o.weightDecay });
      case "adam":
        return new Adam(params, { lr, weightDecay: o.weightDecay });
      case "sgd":
        return new SGD(params, { lr, weightDecay: o.weightDecay });
    }
  });
}
