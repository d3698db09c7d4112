// The training loop: batches from the data layer, forward/backward through the model, an
// optimizer step, evaluation on dev every N steps with a best-on-dev model, a rolling checkpoint
// that resumes exactly (same batches, same dropout draws, same optimizer state), a per-epoch
// learning-rate decay and early stopping. The loop reports through hooks; it never prints.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { limitLength, trainingBatches } from "../data/batching.js";
import { loadEmbeddings } from "../data/embeddings.js";
import { DataError } from "../data/errors.js";
import { Rng, type RngState } from "../data/rng.js";
import { Vocabulary } from "../data/vocabulary.js";
import {
  Adam,
  checkDevice,
  clipGradNorm,
  crossEntropy,
  type Device,
  getRngState,
  manualSeed,
  noGrad,
  type Optimizer,
  RMSprop,
  SGD,
  saveSafetensors,
  scope,
  setRngState,
  tensor,
} from "../engine/index.js";
import { evaluate } from "../inference/evaluate.js";
import type { ClassificationReport } from "../inference/metrics.js";
import type { BaselineKind, RewardKind } from "../models/kinds.js";
import {
  defaultConfig,
  type EncoderKind,
  Model,
  type ModelConfig,
  type Task,
  type TransitionMode,
} from "../models/model.js";
import {
  CheckpointError,
  loadModelDir,
  loadTensors,
  resolveCheckpointDir,
  saveModelDir,
  writeDirAtomic,
  writeModelFiles,
} from "../models/model-dir.js";
import {
  batchFor,
  dataWithTrees,
  lengthKeys,
  readTaskData,
  requireTrees,
  sentencesOfData,
  type TaskData,
} from "../tasks/task.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { Advantages, policyLoss, rewards } from "./reinforce.js";

export type OptimizerKind = "rmsprop" | "adam" | "sgd";

export interface TrainOptions {
  task: Task;
  train: string;
  dev: string;
  out: string;
  model: EncoderKind;
  /** SPINN's trees: the data's parses ("gold") or a fixed left/right/balanced shape. */
  transitions: TransitionMode;
  /**
   * Weight of the transition loss beside the task loss: the cross-entropy against the given
   * transitions (full SPINN) or the REINFORCE policy loss (RL-SPINN).
   */
  transitionWeight: number;
  /** RL-SPINN: the per-example reward, the baseline, its decay, and the entropy bonus. */
  reward: RewardKind;
  baseline: BaselineKind;
  baselineDecay: number;
  entropyWeight: number;
  embeddings?: string;
  embeddingsCache?: string;
  epochs: number;
  batchSize: number;
  seed: number;
  device: Device;
  optimizer: OptimizerKind;
  lr: number;
  /** Learning rate multiplier applied at every new epoch (the article: 0.75). */
  lrDecay: number;
  /** L2 penalty (weight decay added to the gradient). */
  weightDecay: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  clip: number;
  /** Evaluate on dev every this many steps (0: at the end of each epoch). */
  evalEvery: number;
  /** Stop after this many evaluations without a better dev accuracy (0: never). */
  patience: number;
  /** Stop after this many steps in all (0: run every epoch). */
  maxSteps: number;
  dEmbed: number;
  dHidden: number;
  dTracker: number;
  dMlp: number;
  nMlp: number;
  embedDropout: number;
  mlpDropout: number;
  /** Train the embeddings too (default: frozen when pretrained, trained otherwise). */
  trainEmbeddings?: boolean;
  minCount: number;
  lowercase: boolean;
  /** Longest sentence kept (0: no limit); longer ones are cropped (NLI) or skipped (ListOps). */
  maxLength: number;
  lenient: boolean;
}

export const DEFAULT_LR: Record<OptimizerKind, number> = { rmsprop: 2e-3, adam: 1e-3, sgd: 0.1 };

export function defaultTrainOptions(
  base: Pick<TrainOptions, "task" | "train" | "dev" | "out" | "model"> & Partial<TrainOptions>,
): TrainOptions {
  const d = defaultConfig(base.task, base.model, 1);
  const optimizer = base.optimizer ?? "rmsprop";
  return {
    epochs: 10,
    batchSize: 128,
    seed: 1,
    device: "cpu",
    optimizer,
    lr: DEFAULT_LR[optimizer],
    lrDecay: 0.75,
    weightDecay: 0,
    clip: 5,
    evalEvery: 0,
    patience: 0,
    maxSteps: 0,
    dEmbed: d.dEmbed,
    dHidden: d.dHidden,
    dTracker: d.dTracker,
    dMlp: d.dMlp,
    nMlp: d.nMlp,
    embedDropout: d.embedDropout,
    mlpDropout: d.mlpDropout,
    minCount: 1,
    lowercase: base.task === "nli",
    maxLength: 0,
    lenient: false,
    transitions: "gold",
    transitionWeight: 1,
    reward: "neg-loss",
    baseline: "self-critical",
    baselineDecay: 0.9,
    entropyWeight: 0,
    ...base,
  };
}

/** What the rolling checkpoint remembers besides weights and optimizer state. */
interface TrainerState {
  format: "spinn-trainer";
  version: 1;
  options: TrainOptions;
  step: number;
  epoch: number;
  /** Batches of the current epoch already trained. */
  batchInEpoch: number;
  /** The batch RNG's state at the start of the current epoch (its batches are re-derived). */
  epochRng: RngState;
  /** libtorch's CPU generator (dropout draws), base64. */
  engineRng: string;
  /** Running totals of the current epoch's training batches, for its summary line. */
  epochTotals: EpochTotals;
  best: { devAccuracy: number; step: number; epoch: number } | null;
  evalsSinceBest: number;
  /** RL-SPINN's moving-average baseline (null before the first batch, and for other models). */
  rewardAverage?: number | null;
}

interface EpochTotals {
  examples: number;
  lossSum: number;
  correct: number;
}

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

export interface EvalReport {
  step: number;
  epoch: number;
  devAccuracy: number;
  best: boolean;
  report: ClassificationReport;
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
  vocabularySize: number;
  parameters: number;
  embeddings?: { found: number; coverage: number; missing: string[] };
}

function makeOptimizer(model: Model, o: TrainOptions): Optimizer {
  const params = model.store.trainable();
  switch (o.optimizer) {
    case "rmsprop":
      return new RMSprop(params, { lr: o.lr, alpha: 0.9, weightDecay: o.weightDecay });
    case "adam":
      return new Adam(params, { lr: o.lr, weightDecay: o.weightDecay });
    case "sgd":
      return new SGD(params, { lr: o.lr, weightDecay: o.weightDecay });
  }
}

function limit(data: TaskData, o: TrainOptions, log: (m: string) => void): TaskData {
  if (!o.maxLength) return data;
  const mode = data.task === "listops" ? "skip" : "crop";
  const r = limitLength(data.examples, o.maxLength, mode);
  if (r.cropped || r.skipped) {
    log(
      `${data.file}: ${mode === "skip" ? `skipped ${r.skipped}` : `cropped ${r.cropped}`} examples longer than ${o.maxLength} tokens`,
    );
  }
  return { ...data, examples: r.examples };
}

const lastDir = (out: string) => path.join(out, "last");
const bestDir = (out: string) => path.join(out, "best");
const metricsFile = (out: string) => path.join(out, "metrics.jsonl");

/** Options of the run in `out`, if it has a checkpoint. */
export function savedRunOptions(out: string): TrainOptions | null {
  const dir = resolveCheckpointDir(lastDir(out));
  if (!dir) return null;
  return (JSON.parse(readFileSync(path.join(dir, "trainer.json"), "utf8")) as TrainerState).options;
}

/**
 * Trains (or, with resume, continues) the run in options.out. Resuming re-reads the data files
 * named in the saved options and continues from the rolling checkpoint exactly.
 */
export async function train(
  options: TrainOptions,
  hooks: TrainHooks = {},
  resume = false,
): Promise<TrainResult> {
  const log = hooks.log ?? (() => {});
  const started = Date.now();
  checkDevice(options.device);
  mkdirSync(options.out, { recursive: true });

  let state: TrainerState | null = null;
  let o = options;
  if (resume) {
    const dir = resolveCheckpointDir(lastDir(options.out));
    if (!dir)
      throw new CheckpointError(
        `${options.out}: nothing to resume (no checkpoint in ${lastDir(options.out)})`,
      );
    state = JSON.parse(readFileSync(path.join(dir, "trainer.json"), "utf8")) as TrainerState;
    // The saved options rule, except how long to train; options added since the checkpoint was
    // written take their defaults.
    o = defaultTrainOptions({ ...state.options, epochs: options.epochs, maxSteps: options.maxSteps });
    log(`resuming ${options.out} at step ${state.step} (epoch ${state.epoch + 1})`);
  }

  manualSeed(o.seed);
  const trainData = dataWithTrees(
    limit(await readTaskData(o.train, o.task, o.lenient), o, log),
    o.transitions,
  );
  const devData = dataWithTrees(limit(await readTaskData(o.dev, o.task, o.lenient), o, log), o.transitions);
  if (trainData.examples.length === 0) throw new DataError(o.train, 0, undefined, "no training examples");
  requireTrees(trainData, o.model, true);
  requireTrees(devData, o.model, false);

  let model: Model;
  let vocab: Vocabulary;
  let embeddingsInfo: TrainResult["embeddings"];
  if (state) {
    const loaded = loadModelDir(resolveCheckpointDir(lastDir(o.out))!, o.device);
    model = loaded.model;
    vocab = loaded.vocab;
  } else {
    vocab = Vocabulary.build(sentencesOfData(trainData), {
      minCount: o.minCount,
      lowercase: o.lowercase,
    });
    let dEmbed = o.dEmbed;
    const emb = o.embeddings
      ? await loadEmbeddings(o.embeddings, vocab, {
          seed: o.seed,
          ...(o.embeddingsCache ? { cacheDir: o.embeddingsCache } : {}),
        })
      : null;
    if (emb) {
      dEmbed = emb.dim;
      embeddingsInfo = { found: emb.found, coverage: emb.coverage.types, missing: emb.missing.slice(0, 20) };
      log(
        `embeddings: ${emb.found} of ${vocab.size - 2} words have vectors (${(100 * emb.coverage.types).toFixed(1)}% of types` +
          `${emb.coverage.tokens === undefined ? "" : `, ${(100 * emb.coverage.tokens).toFixed(1)}% of tokens`}); ` +
          `most frequent missing: ${emb.missing.slice(0, 8).join(" ")}`,
      );
    }
    const config: ModelConfig = {
      ...defaultConfig(o.task, o.model, vocab.size),
      dEmbed,
      dHidden: o.dHidden,
      dTracker: o.dTracker,
      dMlp: o.dMlp,
      nMlp: o.nMlp,
      embedDropout: o.embedDropout,
      mlpDropout: o.mlpDropout,
      trainEmbeddings: o.trainEmbeddings ?? !emb,
      transitions: o.transitions,
    };
    o = { ...o, dEmbed };
    model = new Model(config, { device: o.device });
    if (emb) scope(() => model.leaves.embed.copy_(tensor(emb.matrix, { shape: [vocab.size, emb.dim] })));
  }

  const optimizer = makeOptimizer(model, o);
  const reinforce = model.config.encoder === "rl-spinn";
  const advantages = new Advantages(o.baseline, o.baselineDecay, state?.rewardAverage ?? null);
  const rng = new Rng(o.seed);
  let step = 0;
  let epoch = 0;
  let batchInEpoch = 0;
  let best: TrainerState["best"] = null;
  let evalsSinceBest = 0;
  let totals: EpochTotals = { examples: 0, lossSum: 0, correct: 0 };
  if (state) {
    const dir = resolveCheckpointDir(lastDir(o.out))!;
    const saved = loadTensors(path.join(dir, "optimizer.safetensors"));
    optimizer.loadState({ step: 0, lr: o.lr, tensors: saved });
    for (const t of saved.values()) t.dispose();
    step = state.step;
    epoch = state.epoch;
    batchInEpoch = state.batchInEpoch;
    best = state.best;
    evalsSinceBest = state.evalsSinceBest;
    totals = state.epochTotals;
    optimizer.stepCount = step;
    rng.setState(state.epochRng);
    setRngState(new Uint8Array(Buffer.from(state.engineRng, "base64")));
    truncateMetrics(o.out, step);
  } else {
    writeFileSync(metricsFile(o.out), "");
  }

  const keys = lengthKeys(trainData);
  const record = (entry: object) => appendFileSync(metricsFile(o.out), `${JSON.stringify(entry)}\n`);
  let interrupted = false;
  let stoppedEarly = false;
  let epochRng = rng.getState();

  let savedStep = -1;
  const checkpoint = () => {
    savedStep = step;
    const s: TrainerState = {
      format: "spinn-trainer",
      version: 1,
      options: o,
      step,
      epoch,
      batchInEpoch,
      epochRng,
      engineRng: Buffer.from(getRngState()).toString("base64"),
      epochTotals: totals,
      best,
      evalsSinceBest,
      rewardAverage: advantages.average,
    };
    writeDirAtomic(lastDir(o.out), (dir) => {
      writeModelFiles(dir, model, vocab, { steps: step, epoch });
      saveSafetensors(path.join(dir, "optimizer.safetensors"), optimizer.state().tensors);
      writeFileAtomic(path.join(dir, "trainer.json"), `${JSON.stringify(s, null, 2)}\n`);
    });
  };

  /** Evaluates on dev; `during` is the 1-based epoch the evaluation belongs to. */
  const runEval = (during: number): boolean => {
    const { report } = evaluate(model, devData, vocab);
    const improved = best === null || report.accuracy > best.devAccuracy;
    if (improved) {
      best = { devAccuracy: report.accuracy, step, epoch };
      evalsSinceBest = 0;
      saveModelDir(bestDir(o.out), model, vocab, { steps: step, epoch, devAccuracy: report.accuracy });
    } else {
      evalsSinceBest++;
    }
    record({ type: "eval", step, epoch: during, dev_accuracy: report.accuracy, best: improved });
    hooks.onEval?.({ step, epoch, devAccuracy: report.accuracy, best: improved, report });
    return o.patience > 0 && evalsSinceBest >= o.patience;
  };

  try {
    training: while (epoch < o.epochs) {
      // The epoch's batches come from the batch RNG's state at the epoch's start, so a resumed
      // run re-derives exactly the batches it was in the middle of.
      if (batchInEpoch === 0) epochRng = rng.getState();
      else rng.setState(epochRng);
      const batches = trainingBatches(keys, { batchSize: o.batchSize, rng });
      optimizer.lr = o.lr * o.lrDecay ** epoch;
      // Throughput since this epoch (or this process) started: steadier than per batch.
      const clock = Date.now();
      let examplesTimed = 0;
      while (batchInEpoch < batches.length) {
        const batch = batchFor(trainData, batches[batchInEpoch]!, vocab);
        const { loss, correct } = scope(() => {
          optimizer.zeroGrad();
          const pass = model.run(batch, true);
          const logits = pass.logits;
          const target = tensor(batch.labels, { device: o.device });
          const taskLoss = crossEntropy(logits, target);
          let l = taskLoss;
          // Full SPINN: the task loss plus the weighted transition loss (teacher forcing).
          if (pass.transitionLoss) l = l.add(pass.transitionLoss.mul(o.transitionWeight));
          // RL-SPINN: the task loss trains the encoder and classifier through the sampled trees,
          // the policy loss trains the tracker's transition scores.
          if (reinforce && pass.logProb && pass.entropy) {
            // The self-critical baseline: the reward of the greedy parse of the same batch (in
            // training mode, so it sees the same kind of dropout as the sample).
            const greedy =
              o.baseline === "self-critical"
                ? noGrad(() => rewards(model.run(batch, true, "greedy").logits, target, o.reward))
                : null;
            const a = advantages.of(rewards(logits, target, o.reward), greedy);
            l = l.add(policyLoss(pass.logProb, pass.entropy, a, o.entropyWeight).mul(o.transitionWeight));
          }
          l.backward();
          if (o.clip > 0) clipGradNorm(optimizer.params, o.clip);
          optimizer.step();
          const c = noGrad(() => logits.argmax(1).eq(target).sum().item());
          return { loss: taskLoss.item(), correct: c };
        });
        step++;
        batchInEpoch++;
        const n = batch.labels.length;
        totals.examples += n;
        totals.lossSum += loss * n;
        totals.correct += correct;
        examplesTimed += n;
        const now = Date.now();
        const r: StepReport = {
          step,
          epoch,
          batchInEpoch,
          batchesInEpoch: batches.length,
          loss: totals.lossSum / totals.examples,
          accuracy: totals.correct / totals.examples,
          lr: optimizer.lr,
          examplesPerSecond: (examplesTimed * 1000) / Math.max(1, now - clock),
        };
        hooks.onStep?.(r);
        if (step % 50 === 0)
          record({ type: "train", step, epoch: epoch + 1, loss: r.loss, accuracy: r.accuracy, lr: r.lr });
        const epochDone = batchInEpoch === batches.length;
        if (epochDone) {
          record({ type: "epoch", step, epoch: epoch + 1, loss: r.loss, accuracy: r.accuracy });
          epoch++;
          batchInEpoch = 0;
          epochRng = rng.getState();
          totals = { examples: 0, lossSum: 0, correct: 0 };
        }
        const evalNow = o.evalEvery > 0 ? step % o.evalEvery === 0 : epochDone;
        if (evalNow) {
          const stop = runEval(epochDone ? epoch : epoch + 1);
          checkpoint();
          if (stop) {
            stoppedEarly = true;
            log(`early stop: no better dev accuracy in ${o.patience} evaluations`);
            break training;
          }
        }
        // Let signal handlers (Ctrl-C) run: the step itself never yields to the event loop.
        await new Promise((resolve) => setImmediate(resolve));
        if (hooks.signal?.aborted || (o.maxSteps > 0 && step >= o.maxSteps)) {
          interrupted = hooks.signal?.aborted ?? false;
          if (!evalNow) checkpoint();
          break training;
        }
        if (epochDone) break;
      }
    }
    // The last state, unless the last step was just checkpointed.
    if (!interrupted && savedStep !== step) checkpoint();
  } finally {
    optimizer.dispose();
  }
  const parameters = model.store.countTrainable();
  model.dispose();
  const b = best as TrainerState["best"];
  return {
    out: o.out,
    steps: step,
    epochs: epoch,
    bestDevAccuracy: b?.devAccuracy ?? null,
    bestStep: b?.step ?? null,
    interrupted,
    stoppedEarly,
    seconds: (Date.now() - started) / 1000,
    trainExamples: trainData.examples.length,
    devExamples: devData.examples.length,
    vocabularySize: vocab.size,
    parameters,
    ...(embeddingsInfo ? { embeddings: embeddingsInfo } : {}),
  };
}

/** Drops metric lines written after the checkpoint a run resumes from. */
function truncateMetrics(out: string, step: number): void {
  const file = metricsFile(out);
  if (!existsSync(file)) return;
  const kept = readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line && (JSON.parse(line) as { step: number }).step <= step);
  writeFileSync(file, kept.map((l) => `${l}\n`).join(""));
}
