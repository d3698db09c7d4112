// How a batch's sentences go through the encoder and come back as the classifier's features:
// a single-sentence batch (ListOps, SST-style) is encoded as it is; a pair batch (NLI) encodes
// premises and hypotheses together in one pass (2B rows) and joins each pair's two
// encodings into [p, h, p − h, p ⊙ h]. Chosen once per batch, so the model itself never asks
// which kind of batch it holds.
import type { ClassificationBatch, NliBatch, SentenceBatch } from "../data/batching.js";
import { SKIP } from "../data/transitions.js";
import type { Tensor } from "../engine/index.js";
import { pairFeatures } from "./heads.js";

export interface BatchLayout {
  /** Every sentence of the batch, as the encoder reads them in one pass. */
  readonly sentences: SentenceBatch;
  /** Examples (classifier rows). */
  readonly examples: number;
  /** The classifier's input (batch × features) from the sentences' encodings. */
  features(encodings: Tensor): Tensor;
  /** A per-sentence term (log-probability, entropy) summed per example. */
  perExample(perSentence: Tensor): Tensor;
}

export function batchLayout(batch: NliBatch | ClassificationBatch): BatchLayout {
  return "sentence" in batch ? singleSentences(batch) : sentencePairs(batch);
}

function singleSentences(batch: ClassificationBatch): BatchLayout {
  return {
    sentences: batch.sentence,
    examples: batch.sentence.size,
    features: (encodings) => encodings,
    perExample: (perSentence) => perSentence,
  };
}

/** Premises in rows [0, n), hypotheses in rows [n, 2n). */
function sentencePairs(batch: NliBatch): BatchLayout {
  const n = batch.premise.size;
  return {
    sentences: stackSentenceBatches(batch.premise, batch.hypothesis),
    examples: n,
    features: (encodings) => pairFeatures(encodings.narrow(0, 0, n), encodings.narrow(0, n, n)),
    perExample: (perSentence) => perSentence.narrow(0, 0, n).add(perSentence.narrow(0, n, n)),
  };
}

/** One batch holding the sentences of a, then those of b (re-padded to the wider of the two). */
export function stackSentenceBatches(a: SentenceBatch, b: SentenceBatch): SentenceBatch {
  const size = a.size + b.size;
  const width = Math.max(a.width, b.width);
  const steps = Math.max(a.steps, b.steps);
  const ids = new Int32Array(size * width);
  const lengths = new Int32Array(size);
  const hasTrees = a.transitions !== null && b.transitions !== null;
  const transitions = hasTrees ? new Uint8Array(size * steps).fill(SKIP) : null;
  let row = 0;
  for (const part of [a, b]) {
    for (let i = 0; i < part.size; i++, row++) {
      ids.set(part.ids.subarray(i * part.width, (i + 1) * part.width), row * width);
      lengths[row] = part.lengths[i]!;
      if (transitions && part.transitions) {
        transitions.set(part.transitions.subarray(i * part.steps, (i + 1) * part.steps), row * steps);
      }
    }
  }
  return { size, width, ids, lengths, steps, transitions };
}
