// What a training run is told: data, model kind and sizes, optimizer, schedule, and RL-SPINN's
// REINFORCE settings, with their defaults in one place. Engine-free, so that the CLI can check
// and document flags without loading libtorch.
import path from "node:path";
import { DEFAULT_TRAIN_BATCH_TOKENS } from "../data/batching.js";
import type { Device } from "../engine/dtype.js";
import type {
  BaselineKind,
  EncoderKind,
  ParserKind,
  RewardKind,
  Task,
  TransitionMode,
} from "../models/kinds.js";
import { DEFAULT_SIZES, MODEL_SIZES, type ModelSizes } from "../models/sizes.js";

/** RL-SPINN's entropy bonus's schedules over the steps (policy-update.ts). */
export const ENTROPY_DECAYS = ["constant", "linear", "exponential"] as const;
export type EntropyDecay = (typeof ENTROPY_DECAYS)[number];
export const OPTIMIZERS = ["rmsprop", "adam", "sgd"] as const;
/** The floating-point types a model can train in (float64: for exactness checks, slower). */
export const FLOAT_DTYPES = ["float32", "float64"] as const;
export type FloatDType = (typeof FLOAT_DTYPES)[number];
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
  /**
   * ListOps with the given trees: weight of the cross-entropy of every sub-list's value, read out
   * from its state by the classifier that reads the whole expression's (0: the label alone).
   * Composed values otherwise drift from the digits they stand for, and the errors compound with
   * nesting depth (README, "ListOps at the published lengths").
   */
  subtreeWeight: number;
  /**
   * RL-SPINN (policy-update.ts): the entropy bonus's schedule over the steps (constant, linear
   * to 0 at entropyDecaySteps, or exponential with that time constant), and the transition
   * policy's own learning rate (unset: the run's).
   */
  entropyDecay: EntropyDecay;
  entropyDecaySteps: number;
  policyLr?: number;
  /**
   * RL-SPINN (ppo.ts): passes over each batch's sampled trees, the first REINFORCE's, the others
   * PPO-clipped updates of the policy alone; and the clip's ε.
   */
  ppoEpochs: number;
  ppoClip: number;
  /**
   * Full SPINN and RL-SPINN: what decides the transitions, the encoder's own tracker ("shared")
   * or a parser disjoint from the composer ("separate", models/parser.ts) with its own hidden
   * size (unset: dHidden) and a tracker of dTracker; the composer then has no tracker unless
   * composerTracker gives it one.
   */
  parser: ParserKind;
  parserHidden?: number;
  /**
   * With a separate or merge parser: the size of the composer's own tracker, which follows the
   * parser's transitions (models/model.ts composerTracker); unset or 0: none.
   */
  composerTracker?: number;
  embeddings?: string;
  embeddingsCache?: string;
  epochs: number;
  batchSize: number;
  /**
   * A token budget per training batch (sentences × the longest sentence's transitions, see
   * data/batching.ts batchTokens()): batches of long sentences get fewer examples, so a batch of
   * them cannot hold many times the graph of an ordinary one. 0: batches of batchSize examples
   * whatever their length, as every run saved before the budget was the default trained
   * (resumedOptions).
   */
  batchTokens: number;
  /**
   * A length curriculum (short first, longer later): epoch k (1, 2, …) trains only on the
   * examples of at most curriculum[k − 1] tokens (a pair: its longer sentence); the epochs after
   * the list train on all. Unset: every epoch on all. Errors compound with depth in a tree, and
   * long examples teach little while the short compositions are still wrong (README, "ListOps at
   * the published lengths").
   */
  curriculum?: number[];
  seed: number;
  device: Device;
  /** The parameters' and activations' floating-point type. */
  dtype: FloatDType;
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
  batchTokens: DEFAULT_TRAIN_BATCH_TOKENS,
  seed: 1,
  device: "cpu" as Device,
  dtype: "float32" as FloatDType,
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
  subtreeWeight: 0,
  entropyDecay: "constant" as EntropyDecay,
  entropyDecaySteps: 1000,
  ppoEpochs: 1,
  ppoClip: 0.2,
  parser: "shared" as ParserKind,
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

/** A resume that asks for something the saved run contradicts (printed as one line). */
export class ResumeError extends Error {
  override name = "ResumeError";
}

/** Options naming files: compared and stored as absolute paths. */
const PATH_OPTIONS: readonly (keyof TrainOptions)[] = ["train", "dev", "embeddings", "embeddingsCache"];

/**
 * The options as a run directory stores them: file paths made absolute (against the working
 * directory the run starts in), so that a resume from any working directory, or of a run
 * directory copied or moved elsewhere, reads the same data files. The data is not part of the run
 * directory, so paths relative to it would break when it moves. `out` is stored as given, for the
 * record only: a resumed run always writes into the directory it is resumed from.
 */
export function absolutePaths(o: TrainOptions): TrainOptions {
  const resolved: Partial<TrainOptions> = {};
  for (const key of PATH_OPTIONS) {
    const value = o[key];
    if (typeof value === "string") Object.assign(resolved, { [key]: path.resolve(value) });
  }
  return { ...o, ...resolved };
}

/** The CLI flag that sets an option, for messages that the library and the CLI share. */
/** The longest example epoch `epoch` (0-based) trains on under a curriculum (Infinity: all). */
export function curriculumLength(curriculum: readonly number[] | undefined, epoch: number): number {
  return curriculum?.[epoch] ?? Number.POSITIVE_INFINITY;
}

export function optionFlag(key: keyof TrainOptions): string {
  if (key === "weightDecay") return "--l2";
  if (key in MODEL_SIZES) return MODEL_SIZES[key as keyof ModelSizes].flag;
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Whether a given option may differ from the saved run's on resume without changing the run. */
function mayDiffer(key: keyof TrainOptions, saved: TrainOptions): boolean {
  return (
    (RESUMABLE_OPTIONS as readonly string[]).includes(key) ||
    // Where the run lives (it resumes where it is) and where vectors are cached change no numbers.
    key === "out" ||
    key === "embeddingsCache" ||
    // With pretrained vectors the vectors' file decided the embedding size, not the flag.
    (key === "dEmbed" && saved.embeddings !== undefined)
  );
}

/**
 * The options of a resumed run in directory `given.out`: the saved ones, with how long to train
 * taken from `given`; options added since the checkpoint was written take their defaults (the
 * token budget excepted: such a run trained on count batches, batchTokens 0). Any
 * other option in `given` (not undefined) that differs from the saved run's is refused, naming
 * each: a resumed run continues the same run or nothing.
 */
export function resumedOptions(
  saved: TrainOptions,
  given: Partial<TrainOptions> & Pick<TrainOptions, "out">,
): TrainOptions {
  // A run saved without a token budget was saved before the budget was the default: it trained
  // on count batches, and resumes on them (exactly), not on today's default.
  const base = defaultTrainOptions({ ...saved, batchTokens: saved.batchTokens ?? 0 });
  const conflicts: string[] = [];
  for (const [k, value] of Object.entries(given)) {
    const key = k as keyof TrainOptions;
    if (value === undefined || mayDiffer(key, base)) continue;
    const was = base[key];
    const isPath = PATH_OPTIONS.includes(key) && typeof value === "string" && typeof was === "string";
    const same = isPath
      ? path.resolve(value) === path.resolve(was)
      : JSON.stringify(value) === JSON.stringify(was);
    if (!same) conflicts.push(`${optionFlag(key)} ${value} differs from the saved run's ${was ?? "(none)"}`);
  }
  if (conflicts.length > 0) {
    const allowed = RESUMABLE_OPTIONS.map(optionFlag).join(" and ");
    throw new ResumeError(`--resume: ${conflicts.join("; ")} (only ${allowed} may change)`);
  }
  const merged: TrainOptions = { ...base, out: given.out };
  for (const key of RESUMABLE_OPTIONS) {
    const value = given[key];
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}
