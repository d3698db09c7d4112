// A training run's directory: `best/` (the best-on-dev model), `last/` (the rolling checkpoint:
// model, optimizer state and trainer.json, enough to resume exactly), `metrics.jsonl` (one JSON
// line per event) and, while a process trains in it, `lock`. Every write is atomic: a checkpoint
// is filled in a fresh directory that replaces the old one by rename (writeDirAtomic), so a crash
// leaves a whole one; metrics are appended, or replaced whole on resume. The directory is
// self-contained: trainer.json records --out as given but a resume never uses it (it writes where
// it is resumed), and data paths are stored absolute, so a copied or moved run resumes in place.
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { RngState } from "../data/rng.js";
import type { Vocabulary } from "../data/vocabulary.js";
import { type Optimizer, saveSafetensors } from "../engine/index.js";
import {
  readVerified,
  recoverCheckpointDir,
  resolveCheckpointDir,
  writeDirAtomic,
} from "../models/checkpoint-dir.js";
import type { Model } from "../models/model.js";
import { loadTensors, saveModelDir, writeModelFiles } from "../models/model-dir.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { CheckpointError, parseJson } from "../util/checked-json.js";
import { appendFileNamed } from "../util/fs-errors.js";
import { makeDirectory } from "../util/make-directory.js";
import { pidAlive } from "../util/pid.js";
import type { TrainOptions } from "./options.js";
import { RunLock } from "./run-lock.js";
import { checkTrainerState } from "./trainer-state.js";

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
  /** Seconds spent training up to this checkpoint (absent in checkpoints from before it existed). */
  elapsedSeconds?: number;
}

/** What a checkpoint holds besides the trainer state. */
export interface CheckpointParts {
  model: Model;
  vocab: Vocabulary;
  optimizer: Optimizer;
}

const TRAINER_FILE = "trainer.json";

/** The step of one metrics.jsonl line (`where` is file:line for the error when it has none). */
function metricStep(line: string, where: string): number {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    throw new CheckpointError(`${where}: not a JSON line (the metrics file is corrupted)`);
  }
  const step = (entry as { step?: unknown } | null)?.step;
  if (!Number.isInteger(step)) throw new CheckpointError(`${where}: metrics entry without an integer "step"`);
  return step as number;
}
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

  /**
   * Takes the run directory for this process (a fresh run creates it; a resumed one must exist,
   * so that a mistyped path leaves no stray directory), then tidies what killed processes left:
   * the newest whole copy of each checkpoint is put in place and their temporary files removed.
   */
  /** Removes the run directory if nothing is in it (a run that stopped before writing). */
  removeIfEmpty(): void {
    try {
      rmdirSync(this.out);
    } catch {
      // Not empty (or already gone): it holds the run, so it stays.
    }
  }

  lock(create: boolean, log: (message: string) => void): RunLock {
    if (create) makeDirectory(this.out);
    else if (!existsSync(this.out))
      throw new CheckpointError(`${this.out}: nothing to resume (no such directory)`);
    const lock = RunLock.acquire(this.out, log);
    try {
      for (const target of [this.last, this.best]) {
        const said = recoverCheckpointDir(target);
        if (said) log(said);
      }
      this.removeDeadTempFiles();
    } catch (err) {
      lock.release();
      throw err;
    }
    return lock;
  }

  /** writeFileAtomic's temporaries (`.<name>.<pid>.<time>.tmp`) left by processes now dead. */
  private removeDeadTempFiles(): void {
    for (const name of readdirSync(this.out)) {
      const m = /^\..+\.(\d+)\.\d+\.tmp$/.exec(name);
      if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1])))
        rmSync(path.join(this.out, name), { force: true });
    }
  }

  /** The trainer state of the rolling checkpoint (checked), or null when the run has none. */
  savedState(): TrainerState | null {
    const dir = this.checkpointDir();
    if (!dir) return null;
    const file = path.join(dir, TRAINER_FILE);
    return checkTrainerState(parseJson(readVerified(dir, TRAINER_FILE).toString("utf8"), file), file);
  }

  /** The state to resume from; a clear error when there is none. */
  resumeState(): TrainerState {
    const state = this.savedState();
    if (!state) throw new CheckpointError(`${this.out}: nothing to resume (no checkpoint in ${this.last})`);
    return state;
  }

  /** Restores the optimizer's state (moments, step count) from the rolling checkpoint. */
  restoreOptimizer(optimizer: Optimizer, state: TrainerState): void {
    const dir = this.checkpointDir()!;
    const saved = loadTensors(dir, OPTIMIZER_FILE);
    try {
      optimizer.loadState({ step: 0, lr: state.options.lr, tensors: saved });
    } catch (err) {
      throw new CheckpointError(`${path.join(dir, OPTIMIZER_FILE)}: ${(err as Error).message}`);
    } finally {
      for (const t of saved.values()) t.dispose();
    }
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
    makeDirectory(this.out);
    writeFileAtomic(this.metrics, "");
  }

  /**
   * A resumed run: drops the metric lines written after the checkpoint it resumes from, and a
   * torn last line (a kill during an append), replacing the file whole (never rewritten in
   * place, where a crash would lose it). A bad line elsewhere is an error naming its line.
   */
  rewindMetrics(step: number): void {
    if (!existsSync(this.metrics)) return;
    const lines = readFileSync(this.metrics, "utf8").split("\n");
    // Every entry ends with a newline: whatever follows the last one is a torn append.
    lines.pop();
    const kept = lines.filter((line, i) => metricStep(line, `${this.metrics}:${i + 1}`) <= step);
    writeFileAtomic(
      this.metrics,
      kept.map((l) => `${l}\n`),
    );
  }

  record(entry: object): void {
    appendFileNamed(this.metrics, `${JSON.stringify(entry)}\n`);
  }
}

/**
 * The run directory as a data-parallel worker other than rank 0 sees it: it reads the
 * checkpoint to resume from (every rank needs the run directory, on a shared file system when
 * the ranks are on several machines) and writes nothing; rank 0 alone writes checkpoints and
 * metrics.
 */
export class ReadOnlyRunDirectory extends RunDirectory {
  override writeCheckpoint(): void {}
  override saveBest(): void {}
  override start(): void {}
  override rewindMetrics(): void {}
  override record(): void {}
}
