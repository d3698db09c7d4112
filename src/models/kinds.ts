// Names of the model families and tasks, kept apart from the models themselves so that code
// that only needs the names (CLI flag checks) does not load the tensor engine.
export const ENCODERS = ["spinn-pi-nt", "spinn-pi", "spinn", "rl-spinn", "lstm", "bilstm", "cbow"] as const;
export type EncoderKind = (typeof ENCODERS)[number];
export const TASKS = ["nli", "listops"] as const;
export type Task = (typeof TASKS)[number];
/** Where a SPINN's trees come from: the data's parses ("gold") or a fixed shape (controls for learned trees). */
export const TRANSITION_MODES = ["gold", "left", "right", "balanced"] as const;
export type TransitionMode = (typeof TRANSITION_MODES)[number];

/** Encoders that compose along trees (and so have trees to report). */
export function composesTrees(encoder: EncoderKind): boolean {
  return encoder === "spinn-pi-nt" || encoder === "spinn-pi" || predictsTransitions(encoder);
}

/** Encoders whose tracker decides the transitions: full SPINN and RL-SPINN. */
export function predictsTransitions(encoder: EncoderKind): boolean {
  return encoder === "spinn" || encoder === "rl-spinn";
}

/**
 * Where the trees a model composes along at evaluation and prediction come from: the data's own
 * parses ("given"), a fixed shape ("left", "right", "balanced"), the model's own most probable
 * transitions ("predicted": full SPINN and RL-SPINN, which samples only in training), or none (the
 * sequence baselines).
 */
export type TreeSource = "given" | "left" | "right" | "balanced" | "predicted" | "none";

export function treeSource(encoder: EncoderKind, mode: TransitionMode): TreeSource {
  if (predictsTransitions(encoder)) return "predicted";
  if (!composesTrees(encoder)) return "none";
  return mode === "gold" ? "given" : mode;
}

/**
 * Whether an encoder needs every sentence's parse: SPINN-PI(-NT) always compose along given trees;
 * full SPINN learns from them in training (teacher forcing) and parses by itself afterwards;
 * RL-SPINN never uses them (it samples its own trees in training).
 */
export function needsGivenTrees(encoder: EncoderKind, training: boolean): boolean {
  return encoder === "spinn-pi" || encoder === "spinn-pi-nt" || (encoder === "spinn" && training);
}

/** RL-SPINN's per-example reward: −(cross-entropy of the gold label), or 1/0 for correct/wrong. */
export const REWARDS = ["neg-loss", "correct"] as const;
export type RewardKind = (typeof REWARDS)[number];
/**
 * What RL-SPINN subtracts from the reward: nothing, a moving average of past rewards, the batch's
 * own mean with whitening ((r − mean) / std), or the reward of the greedy parse (self-critical).
 */
export const BASELINES = ["none", "moving-average", "whiten", "self-critical", "learned"] as const;
export type BaselineKind = (typeof BASELINES)[number];

/**
 * What decides a parsing model's transitions: the encoder's own tracker ("shared": the policy
 * reads the composer's states), or a parser disjoint from the composer: shift-reduce ("separate",
 * parser.ts) or easy-first, merging adjacent pairs ("merge", merge-parser.ts; RL-SPINN only).
 */
export const PARSERS = ["shared", "separate", "merge"] as const;
export type ParserKind = (typeof PARSERS)[number];
