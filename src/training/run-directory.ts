// A training run's directory: `best/` (the best-on-dev model), `last/` (the rolling checkpoint:
// model, optimizer state and trainer.json, enough to resume exactly) and `metrics.jsonl` (one
// JSON line per event). Every write is atomic: a checkpoint is filled in a fresh directory that
// replaces the old one by rename (writeDirAtomic), so a crash leaves the previous one whole.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { RngState } from "../data/rng.js";
import type { Vocabulary } from "../data/vocabulary.js";
import { type Optimizer, saveSafetensors } from "../engine/index.js";
import type { Model } from "../models/model.js";
import {
  CheckpointError,
  loadTensors,
  resolveCheckpointDir,
  saveModelDir,
  writeDirAtomic,
  writeModelFiles,
} from "../models/model-dir.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { appendFileNamed } from "../util/fs-errors.js";
import type { TrainOptions } from "./options.js";

/** Where a run stands: everything besides weights and optimizer state that a resume needs. */
export interface RunProgress {
  step: number;
  epoch: number;
  /** Batches of the current epoch already trained. */
  batchInEpoch: number;
  /** The batch RNG's state at the start of the current epoch (its batches are re-derived). */
  epochRng: RngState;
  /** Running totals of the current epoch's training batches, for its summary line. */
  epochTotals: EpochTotals;
  best: { devAccuracy: number; step: number; epoch: number } | null;
  evalsSinceBest: number;
}

export interface EpochTotals {
  examples: number;
  lossSum: number;
  correct: number;
}

/** trainer.json: the rolling checkpoint's record of the run. */
export interface TrainerState extends RunProgress {
  format: "spinn-trainer";
  version: 1;
  options: TrainOptions;
  /** libtorch's CPU generator (dropout draws, sampled transitions), base64. */
  engineRng: string;
  /** RL-SPINN's moving-average baseline (null before the first batch, and for other models). */
  rewardAverage?: number | null;
}

/** What a checkpoint holds besides the trainer state. */
export interface CheckpointParts {
  model: Model;
  vocab: Vocabulary;
  optimizer: Optimizer;
}

const TRAINER_FILE = "trainer.json";
const OPTIMIZER_FILE = "optimizer.safetensors";

export class RunDirectory {
  readonly last: string;
  readonly best: string;
  readonly metrics: string;

  constructor(readonly out: string) {
    this.last = path.join(out, "last");
    this.best = path.join(out, "best");
    this.metrics = path.join(out, "metrics.jsonl");
  }

  /** The rolling checkpoint's directory (or its `.old` twin after an interrupted swap), if any. */
  checkpointDir(): string | null {
    return resolveCheckpointDir(this.last);
  }

  /** The trainer state of the rolling checkpoint, or null when the run has none. */
  savedState(): TrainerState | null {
    const dir = this.checkpointDir();
    return dir ? (JSON.parse(readFileSync(path.join(dir, TRAINER_FILE), "utf8")) as TrainerState) : null;
  }

  /** The state to resume from; a clear error when there is none. */
  resumeState(): TrainerState {
    const state = this.savedState();
    if (!state) throw new CheckpointError(`${this.out}: nothing to resume (no checkpoint in ${this.last})`);
    return state;
  }

  /** Restores the optimizer's state (moments, step count) from the rolling checkpoint. */
  restoreOptimizer(optimizer: Optimizer, state: TrainerState): void {
    const saved = loadTensors(path.join(this.checkpointDir()!, OPTIMIZER_FILE));
    optimizer.loadState({ step: 0, lr: state.options.lr, tensors: saved });
    for (const t of saved.values()) t.dispose();
    optimizer.stepCount = state.step;
  }

  writeCheckpoint(parts: CheckpointParts, state: TrainerState): void {
    writeDirAtomic(this.last, (dir) => {
      writeModelFiles(dir, parts.model, parts.vocab, { steps: state.step, epoch: state.epoch });
      saveSafetensors(path.join(dir, OPTIMIZER_FILE), parts.optimizer.state().tensors);
      writeFileAtomic(path.join(dir, TRAINER_FILE), `${JSON.stringify(state, null, 2)}\n`);
    });
  }

  saveBest(model: Model, vocab: Vocabulary, progress: RunProgress, devAccuracy: number): void {
    saveModelDir(this.best, model, vocab, { steps: progress.step, epoch: progress.epoch, devAccuracy });
  }

  /** A new run: the directory exists and its metrics file is empty. */
  start(): void {
    mkdirSync(this.out, { recursive: true });
    writeFileSync(this.metrics, "");
  }

  /** A resumed run: drops the metric lines written after the checkpoint it resumes from. */
  rewindMetrics(step: number): void {
    if (!existsSync(this.metrics)) return;
    const kept = readFileSync(this.metrics, "utf8")
      .split("\n")
      .filter((line) => line && (JSON.parse(line) as { step: number }).step <= step);
    writeFileSync(this.metrics, kept.map((l) => `${l}\n`).join(""));
  }

  record(entry: object): void {
    appendFileNamed(this.metrics, `${JSON.stringify(entry)}\n`);
  }
}
