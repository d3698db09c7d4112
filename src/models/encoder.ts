// The one interface every sentence encoder implements (SPINN, LSTM/BiLSTM, CBOW), so that the
// model runs any of them the same way and reads the trees and policy terms off the pass when
// the encoder has them.
import type { SentenceBatch } from "../data/batching.js";
import type { Tensor } from "../engine/index.js";
import type { BatchShard } from "./batch-shard.js";

/**
 * How a pass decides its transitions: follow the batch's own ("given"; a predicting encoder
 * scores them: teacher forcing), take the most probable valid action ("greedy"), or draw each
 * action from the tracker's policy ("sample", RL-SPINN's training; the uniforms come from the
 * engine's seeded CPU generator, so a run is reproducible and resumes exactly). Encoders that do
 * not compose along trees ignore it.
 */
export type TransitionSource = "given" | "greedy" | "sample";

/** The trees a pass composed along. */
export interface FollowedTrees {
  /** The transitions followed, N × steps, SKIP-padded. */
  transitions: Uint8Array;
  steps: number;
  /**
   * The merge parser's choices (merge-parser.ts): per sentence, the pair merged at each of its
   * n − 1 steps, the order whose log-probability the policy terms hold (a tree has many).
   */
  merges?: Int32Array[];
}

/** What a pass's predicted transitions cost and how likely they were (predicting encoders). */
export interface PolicyTerms {
  /**
   * Per sentence (N): the log-probability of the transitions followed under the policy
   * restricted to valid actions (forced actions count as probability 1).
   */
  logProb: Tensor;
  /** Per sentence (N): the summed entropy of that policy at the steps with a real choice. */
  entropy: Tensor;
  /**
   * Mean cross-entropy of the predicted transitions against the given ones (teacher forcing);
   * null when the transitions were the encoder's own (greedy, sampled).
   */
  transitionLoss: Tensor | null;
}

/** One encoder pass over a batch of sentences. */
export interface EncoderPass {
  /** N × outputSize. */
  encoding: Tensor;
  /** Tree encoders only. */
  trees?: FollowedTrees;
  /** Encoders that predict their transitions only. */
  policy?: PolicyTerms;
  /** Tree encoders, when asked (`keep`): the h of the asked REDUCEs' results, K × outputSize. */
  kept?: Tensor;
}

/** REDUCEs whose results a caller wants back: per entry, the sentence and the transition index. */
export interface KeptReduces {
  sentence: Int32Array;
  step: Int32Array;
}

export interface SentenceEncoder {
  readonly outputSize: number;
  /**
   * Encodes a batch from its compact leaf states (tokens × 2H: sentence i's token j at row
   * offset(i) + j). `source` says where a tree encoder's transitions come from; each encoder
   * has its own default (a predicting SPINN follows its own greedy parse).
   */
  run(
    leaves: Tensor,
    batch: SentenceBatch,
    source?: TransitionSource,
    shard?: BatchShard,
    keep?: KeptReduces,
  ): EncoderPass;
}

/** The rows start, start + 1, …, end − 1. */
export function rowRange(start: number, end: number): Int32Array {
  const out = new Int32Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}
