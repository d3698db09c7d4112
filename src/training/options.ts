// What a training run is told: data, model kind and sizes, optimizer, schedule, and RL-SPINN's
// REINFORCE settings, with their defaults in one place. Engine-free, so that the CLI can check
// and document flags without loading libtorch.
import type { Device } from "../engine/dtype.js";
import type { BaselineKind, EncoderKind, RewardKind, Task, TransitionMode } from "../models/kinds.js";
import { DEFAULT_SIZES, type ModelSizes } from "../models/sizes.js";

export const OPTIMIZERS = ["rmsprop", "adam", "sgd"] as const;
export type OptimizerKind = (typeof OPTIMIZERS)[number];

/** The learning rate each optimizer starts from unless told otherwise (RMSprop: the article's). */
export const DEFAULT_LR: Record<OptimizerKind, number> = { rmsprop: 2e-3, adam: 1e-3, sgd: 0.1 };

export interface TrainOptions extends ModelSizes {
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
  /**
   * A token budget per training batch (sentences × the longest sentence's transitions, see
   * data/batching.ts batchTokens()): batches of long sentences get fewer examples. Unset (the
   * default, and every run saved before the option existed): batches of batchSize examples.
   */
  batchTokens?: number;
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
  /** Train the embeddings too (default: frozen when pretrained, trained otherwise). */
  trainEmbeddings?: boolean;
  minCount: number;
  lowercase: boolean;
  /** Longest sentence kept (0: no limit); longer ones are cropped (NLI) or skipped (ListOps). */
  maxLength: number;
  lenient: boolean;
}

/** The options a caller must give; everything else has a default. */
export type RequiredTrainOptions = Pick<TrainOptions, "task" | "train" | "dev" | "out" | "model">;

/** Defaults that do not depend on the task or the optimizer (the help texts quote these). */
export const TRAIN_DEFAULTS = {
  epochs: 10,
  batchSize: 128,
  seed: 1,
  device: "cpu" as Device,
  optimizer: "rmsprop" as OptimizerKind,
  lrDecay: 0.75,
  weightDecay: 0,
  clip: 5,
  evalEvery: 0,
  patience: 0,
  maxSteps: 0,
  minCount: 1,
  maxLength: 0,
  lenient: false,
  transitions: "gold" as TransitionMode,
  transitionWeight: 1,
  reward: "neg-loss" as RewardKind,
  baseline: "self-critical" as BaselineKind,
  baselineDecay: 0.9,
  entropyWeight: 0,
} satisfies Partial<TrainOptions>;

export function defaultTrainOptions(base: RequiredTrainOptions & Partial<TrainOptions>): TrainOptions {
  const optimizer = base.optimizer ?? TRAIN_DEFAULTS.optimizer;
  return {
    ...TRAIN_DEFAULTS,
    ...DEFAULT_SIZES,
    optimizer,
    lr: DEFAULT_LR[optimizer],
    // Word case carries little in SNLI and the GloVe vocabulary is lowercase.
    lowercase: base.task === "nli",
    ...base,
  };
}

/** How long to train: the only options a resumed run may change. */
export const RESUMABLE_OPTIONS = ["epochs", "maxSteps"] as const satisfies readonly (keyof TrainOptions)[];

/**
 * The options of a resumed run: the saved ones rule, except how long to train; options added
 * since the checkpoint was written take their defaults.
 */
export function resumedOptions(saved: TrainOptions, given: Partial<TrainOptions>): TrainOptions {
  const merged: TrainOptions = { ...saved };
  for (const key of RESUMABLE_OPTIONS) {
    const value = given[key];
    if (value !== undefined) merged[key] = value;
  }
  return defaultTrainOptions(merged);
}
