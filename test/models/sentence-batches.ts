// Shared by the encoder and RL tests: SentenceBatches built from word ids and transitions, as
// the data layer lays them out (rows padded with id 0 and SKIP transitions), and the three trees
// over four words that the RL tests sample among.
import type { SentenceBatch } from "../../src/data/batching.js";
import { REDUCE, SHIFT, SKIP } from "../../src/data/transitions.js";

export interface Sentence<Transitions extends ArrayLike<number> | null = ArrayLike<number> | null> {
  ids: readonly number[];
  /** Its tree as transitions, or null for a batch that the model parses (sampled or predicted). */
  transitions: Transitions;
}

/** The sentences side by side; either every sentence has its transitions or none has. */
export function batchOf(sentences: readonly Sentence[]): SentenceBatch {
  const parsed = sentences.filter((s) => s.transitions !== null).length;
  if (parsed !== 0 && parsed !== sentences.length)
    throw new Error("batchOf: every sentence has its transitions, or none has");
  const width = Math.max(...sentences.map((s) => s.ids.length));
  const steps = parsed === 0 ? 0 : Math.max(...sentences.map((s) => s.transitions!.length));
  const ids = new Int32Array(sentences.length * width);
  const transitions = parsed === 0 ? null : new Uint8Array(sentences.length * steps).fill(SKIP);
  sentences.forEach((s, i) => {
    ids.set(s.ids, i * width);
    if (transitions) transitions.set(s.transitions!, i * steps);
  });
  const lengths = Int32Array.from(sentences.map((s) => s.ids.length));
  return { size: sentences.length, width, ids, lengths, steps, transitions };
}

/** One copy of the sentence `ids` per tree, composed along that tree. */
export function alongTrees(ids: readonly number[], trees: readonly ArrayLike<number>[]): SentenceBatch {
  return batchOf(trees.map((transitions) => ({ ids, transitions })));
}

/** `copies` copies of the sentence `ids`, with no trees (the model chooses them). */
export function copiesOf(ids: readonly number[], copies: number): SentenceBatch {
  return batchOf(Array.from({ length: copies }, () => ({ ids, transitions: null })));
}

const S = SHIFT;
const R = REDUCE;
/** Three of the five binary trees over four words: ((1 2) 3) 4, 1 (2 (3 4)), (1 2) (3 4). */
export const FOUR_WORD_TREES: readonly number[][] = [
  [S, S, R, S, R, S, R],
  [S, S, S, S, R, R, R],
  [S, S, R, S, S, R, R],
];
