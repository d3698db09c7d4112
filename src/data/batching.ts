// Batching: which examples go together, in which order, and the padded typed arrays a batched
// encoder consumes.
//
// A batch is just `{ indices }` into the example list; the arrays are built on demand by
// `encodeNliBatch` / `encodeListOpsBatch`, so a batch plan is cheap to make, store and replay.
//
// Training order: examples are shuffled, then sorted (stably) by length — for pairs by
// (premise length, hypothesis length) — so each batch holds examples of similar lengths with
// random tie-breaking, the sorted list is cut into batches, and the batch order is shuffled.
// Everything random comes from the caller's seeded Rng: same seed (or same saved Rng state),
// same batches. Evaluation order is sorted the same way but never shuffled (ties by index), and
// `restoreOrder` maps per-batch results back to the original example order.
//
// Padded arrays (row-major, one row per example): token ids padded on the right with PAD_ID;
// transitions padded on the right with SKIP, a step at which the example does nothing, so that an
// example's result never depends on what else is in its batch.

import type { ListOpsExample } from "./listops.js";
import type { NliExample } from "./nli.js";
import type { Rng } from "./rng.js";
import { cropSentence, type ParsedSentence, SKIP } from "./transitions.js";
import { PAD_ID, type Vocabulary } from "./vocabulary.js";

/** A batch: positions in the example list it was planned from. */
export interface Batch {
  indices: number[];
}

/** Sort keys for bucketing: one length per example, and a second one for pairs. */
export interface LengthKeys {
  primary: ArrayLike<number>;
  secondary?: ArrayLike<number>;
}

/** Token counts of examples: (premise, hypothesis) for NLI pairs, the sentence for ListOps. */
export function lengthsOf(examples: readonly (NliExample | ListOpsExample)[]): LengthKeys {
  const primary = new Int32Array(examples.length);
  let secondary: Int32Array | undefined;
  examples.forEach((ex, i) => {
    if ("sentence" in ex) {
      primary[i] = ex.sentence.tokens.length;
    } else {
      secondary ??= new Int32Array(examples.length);
      primary[i] = ex.premise.tokens.length;
      secondary[i] = ex.hypothesis.tokens.length;
    }
  });
  return secondary === undefined ? { primary } : { primary, secondary };
}

export interface TrainingBatchOptions {
  batchSize: number;
  /** Source of randomness; its state advances, so successive calls give successive epochs. */
  rng: Rng;
  /** Lengths are compared after integer division by this (default 1: exact lengths). */
  bucketWidth?: number;
  /** Drop the last, smaller batch (default false; ignored with a token budget). */
  dropLast?: boolean;
  /**
   * A token budget per batch (see batchTokens): a batch also stops growing before its cost
   * would pass this. Unset: batches of batchSize examples whatever their length.
   */
  batchTokens?: number;
  /** Leave out the examples longer than this many tokens (a pair: its longer sentence); default: none. */
  longest?: number;
}

/**
 * The default token budget of evaluation batches (see batchTokens()): 32,768 sentences ×
 * transitions, which leaves batches of 256 SNLI pairs up to 32 tokens whole, but cuts a batch
 * of 1,000-token ListOps expressions to 16. (Evaluating 10,000 ListOps expressions at the
 * published lengths: 0.78 GB peak RSS with it, 1.66 GB without, BENCHMARKS.md.)
 */
export const DEFAULT_EVAL_BATCH_TOKENS = 32768;

/**
 * The default token budget of training batches (see batchTokens()): 16,384 sentences ×
 * transitions. A training batch's autograd graph grows with its transitions, so without a budget
 * a batch of long examples holds many times the graph of an ordinary one (128 ListOps
 * expressions of 1,000 tokens cost 255,872: 16 times this budget, which makes them batches of 8).
 * On the SNLI training subset, batches of 128 pairs cost 7,424 at the median and at most 15,616,
 * except the one of the longest pairs (37,164): this budget leaves every other batch whole and
 * cuts that one in two, so ordinary data trains as with count batches. Half the evaluation
 * budget: training also keeps the graph for the backward pass. (Measured peaks: BENCHMARKS.md,
 * "Memory"; ListOps expressions of 40 tokens still make batches of 128.)
 */
export const DEFAULT_TRAIN_BATCH_TOKENS = 16384;

/**
 * What a batch costs an encoder that runs its sentences side by side: sentences × the longest
 * sentence's transitions (2n − 1 for n tokens), i.e. the rows × steps of its state. A pair is
 * two sentences (the encoder runs premises and hypotheses in one pass).
 */
export function batchTokens(keys: LengthKeys, indices: readonly number[]): number {
  let longest = 0;
  for (const i of indices) longest = Math.max(longest, exampleLength(keys, i));
  return indices.length * (keys.secondary ? 2 : 1) * Math.max(1, 2 * longest - 1);
}

/** An example's length in tokens: its sentence's, or for a pair the longer of its two sentences'. */
export function exampleLength(keys: LengthKeys, i: number): number {
  return Math.max(keys.primary[i]!, keys.secondary ? keys.secondary[i]! : 0);
}

/** One epoch of training batches: bucketed by length, batch order shuffled. */
export function trainingBatches(keys: LengthKeys, options: TrainingBatchOptions): Batch[] {
  const { batchSize, rng, bucketWidth = 1, dropLast = false, batchTokens: budget } = options;
  checkPositiveInt("batchSize", batchSize);
  checkPositiveInt("bucketWidth", bucketWidth);
  if (budget !== undefined) checkPositiveInt("batchTokens", budget);
  const shuffled = rng.shuffle(range(keys.primary.length));
  const { longest } = options;
  const order = longest === undefined ? shuffled : shuffled.filter((i) => exampleLength(keys, i) <= longest);
  sortByLength(order, keys, bucketWidth);
  const batches =
    budget === undefined ? cut(order, batchSize, dropLast) : cutByBudget(order, keys, batchSize, budget);
  return rng.shuffle(batches);
}

/**
 * Evaluation batches in a deterministic order (sorted by length, ties by index): batchSize
 * examples each, or fewer where `batchTokens` (a token budget, see batchTokens()) says so, so a
 * few long examples cannot make a batch that holds all of memory. `restoreOrder` puts the
 * results back in data order.
 */
export function evaluationBatches(keys: LengthKeys, batchSize: number, batchTokens?: number): Batch[] {
  checkPositiveInt("batchSize", batchSize);
  if (batchTokens !== undefined) checkPositiveInt("batchTokens", batchTokens);
  const order = range(keys.primary.length);
  sortByLength(order, keys, 1);
  return batchTokens === undefined
    ? cut(order, batchSize, false)
    : cutByBudget(order, keys, batchSize, batchTokens);
}

/**
 * Puts per-batch results back in the original example order: `results[b][k]` belongs to example
 * `batches[b].indices[k]`. Throws if the shapes disagree or an example is missing.
 */
export function restoreOrder<T>(
  batches: readonly Batch[],
  results: readonly (readonly T[])[],
  count: number,
): T[] {
  if (results.length !== batches.length) {
    throw new RangeError(`restoreOrder: ${results.length} result lists for ${batches.length} batches`);
  }
  const out = new Array<T>(count);
  const filled = new Uint8Array(count);
  batches.forEach((batch, b) => {
    const r = results[b]!;
    if (r.length !== batch.indices.length) {
      throw new RangeError(
        `restoreOrder: batch ${b} has ${batch.indices.length} examples but ${r.length} results`,
      );
    }
    batch.indices.forEach((index, k) => {
      out[index] = r[k]!;
      filled[index] = 1;
    });
  });
  const gap = filled.indexOf(0);
  if (gap >= 0) throw new RangeError(`restoreOrder: no result for example ${gap}`);
  return out;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Stable sort of `order` by (primary, secondary) lengths after division by `width`. */
function sortByLength(order: number[], keys: LengthKeys, width: number): void {
  const { primary, secondary } = keys;
  const key = (x: number): number => Math.floor(x / width);
  order.sort((a, b) => {
    const d = key(primary[a]!) - key(primary[b]!);
    if (d !== 0 || secondary === undefined) return d;
    return key(secondary[a]!) - key(secondary[b]!);
  });
}

function cut(order: number[], batchSize: number, dropLast: boolean): Batch[] {
  const batches: Batch[] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    if (dropLast && indices.length < batchSize) break;
    batches.push({ indices });
  }
  return batches;
}

/**
 * Cuts `order` (sorted by length) into batches of at most batchSize examples whose cost
 * (batchTokens()) stays within `budget`; an example over the budget on its own is a batch of one.
 */
function cutByBudget(order: number[], keys: LengthKeys, batchSize: number, budget: number): Batch[] {
  const perExample = keys.secondary ? 2 : 1;
  const batches: Batch[] = [];
  let indices: number[] = [];
  let longest = 0;
  for (const i of order) {
    const next = Math.max(longest, exampleLength(keys, i));
    const cost = (indices.length + 1) * perExample * Math.max(1, 2 * next - 1);
    if (indices.length > 0 && (indices.length >= batchSize || cost > budget)) {
      batches.push({ indices });
      indices = [];
      longest = 0;
    }
    indices.push(i);
    longest = Math.max(longest, exampleLength(keys, i));
  }
  if (indices.length > 0) batches.push({ indices });
  return batches;
}

function checkPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

// ---------------------------------------------------------------------------------------------
// Maximum length

export type MaxLengthMode = "crop" | "skip";

export interface LimitedExamples<T> {
  examples: T[];
  /** Examples shortened (crop) or dropped (skip). */
  cropped: number;
  skipped: number;
}

/**
 * Applies a maximum sentence length in tokens. "crop" keeps the first `maxLength` tokens (and a
 * valid tree over them, see `cropSentence`); "skip" drops the example. For ListOps, cropping
 * changes the value of the expression, so use "skip" there.
 */
export function limitLength<T extends NliExample | ListOpsExample>(
  examples: readonly T[],
  maxLength: number,
  mode: MaxLengthMode,
): LimitedExamples<T> {
  checkPositiveInt("maxLength", maxLength);
  const out: T[] = [];
  let cropped = 0;
  let skipped = 0;
  for (const ex of examples) {
    const sentences = "sentence" in ex ? [ex.sentence] : [ex.premise, ex.hypothesis];
    if (sentences.every((s) => s.tokens.length <= maxLength)) {
      out.push(ex);
    } else if (mode === "skip") {
      skipped++;
    } else {
      cropped++;
      out.push(
        "sentence" in ex
          ? { ...ex, sentence: cropSentence(ex.sentence, maxLength) }
          : {
              ...ex,
              premise: cropSentence(ex.premise, maxLength),
              hypothesis: cropSentence(ex.hypothesis, maxLength),
            },
      );
    }
  }
  return { examples: out, cropped, skipped };
}

// ---------------------------------------------------------------------------------------------
// Padded arrays

/** Padded arrays for a batch of sentences (B rows). */
export interface SentenceBatch {
  /** B, the number of sentences. */
  size: number;
  /** T, the longest sentence in tokens. */
  width: number;
  /** B × T token ids, row-major, padded on the right with PAD_ID. */
  ids: Int32Array;
  /** Tokens per sentence. */
  lengths: Int32Array;
  /** S, the most transitions of any sentence (2T − 1 for complete trees). */
  steps: number;
  /** B × S transitions, row-major, padded on the right with SKIP; null if any sentence has no tree. */
  transitions: Uint8Array | null;
}

/** Labeled batch for NLI: premises and hypotheses row-aligned with `labels`. */
export interface NliBatch {
  indices: number[];
  labels: Int32Array;
  premise: SentenceBatch;
  hypothesis: SentenceBatch;
}

/** Labeled batch for single-sentence classification (ListOps). */
export interface ClassificationBatch {
  indices: number[];
  labels: Int32Array;
  sentence: SentenceBatch;
  /**
   * When every example carries its sub-lists' values (training with --subtree-weight): per
   * sub-list, its sentence (batch row), the transition that closes it, and its value.
   */
  subtrees?: { sentence: Int32Array; step: Int32Array; labels: Int32Array };
}

export function encodeSentences(sentences: readonly ParsedSentence[], vocab: Vocabulary): SentenceBatch {
  const size = sentences.length;
  let width = 0;
  let steps = 0;
  let allTrees = true;
  for (const s of sentences) {
    width = Math.max(width, s.tokens.length);
    if (s.transitions === null) allTrees = false;
    else steps = Math.max(steps, s.transitions.length);
  }
  const ids = new Int32Array(size * width).fill(PAD_ID);
  const lengths = new Int32Array(size);
  sentences.forEach((s, b) => {
    lengths[b] = s.tokens.length;
    for (let t = 0; t < s.tokens.length; t++) ids[b * width + t] = vocab.idOf(s.tokens[t]!);
  });
  let transitions: Uint8Array | null = null;
  if (allTrees) {
    transitions = new Uint8Array(size * steps).fill(SKIP);
    sentences.forEach((s, b) => {
      transitions!.set(s.transitions!, b * steps);
    });
  }
  return { size, width, ids, lengths, steps: allTrees ? steps : 0, transitions };
}

export function encodeNliBatch(examples: readonly NliExample[], batch: Batch, vocab: Vocabulary): NliBatch {
  const rows = batch.indices.map((i) => exampleAt(examples, i));
  return {
    indices: batch.indices,
    labels: Int32Array.from(rows, (ex) => ex.label),
    premise: encodeSentences(
      rows.map((ex) => ex.premise),
      vocab,
    ),
    hypothesis: encodeSentences(
      rows.map((ex) => ex.hypothesis),
      vocab,
    ),
  };
}

export function encodeListOpsBatch(
  examples: readonly ListOpsExample[],
  batch: Batch,
  vocab: Vocabulary,
): ClassificationBatch {
  const rows = batch.indices.map((i) => exampleAt(examples, i));
  const subtrees = rows.every((ex) => ex.subtrees) ? subtreeTargets(rows) : null;
  return {
    indices: batch.indices,
    labels: Int32Array.from(rows, (ex) => ex.label),
    sentence: encodeSentences(
      rows.map((ex) => ex.sentence),
      vocab,
    ),
    ...(subtrees ? { subtrees } : {}),
  };
}

/** The batch's sub-lists, sentence by sentence. */
function subtreeTargets(rows: readonly ListOpsExample[]) {
  const total = rows.reduce((n, ex) => n + ex.subtrees!.steps.length, 0);
  const out = { sentence: new Int32Array(total), step: new Int32Array(total), labels: new Int32Array(total) };
  let k = 0;
  rows.forEach((ex, row) => {
    out.sentence.fill(row, k, k + ex.subtrees!.steps.length);
    out.step.set(ex.subtrees!.steps, k);
    out.labels.set(ex.subtrees!.values, k);
    k += ex.subtrees!.steps.length;
  });
  return out;
}

function exampleAt<T>(examples: readonly T[], i: number): T {
  const ex = examples[i];
  if (ex === undefined) throw new RangeError(`batch index ${i} out of range (${examples.length} examples)`);
  return ex;
}
