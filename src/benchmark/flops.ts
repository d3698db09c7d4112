// Counting the floating-point work of a SPINN training step, so that a benchmark can say how
// close it runs to what the machine's matrix products allow. Only the matrix products are
// counted (2 FLOPs per multiply-add); the elementwise maths is a few percent on top.
import type { NliBatch, SentenceBatch } from "../data/batching.js";
import type { ModelConfig } from "../models/model.js";

/** Forward-pass FLOPs of the matrix products for one sentence batch through a SPINN encoder. */
export function spinnEncoderFlops(batch: SentenceBatch, c: ModelConfig): number {
  const H = c.dHidden;
  const T = c.encoder === "spinn-pi-nt" ? 0 : c.dTracker;
  let tokens = 0;
  for (const n of batch.lengths) tokens += n;
  const steps = 2 * tokens - batch.size; // 2n − 1 transitions per sentence
  const reductions = tokens - batch.size; // n − 1 per sentence
  const projection = 2 * tokens * c.dEmbed * 2 * H;
  // The tracker's LSTM cell: input [buffer top, stack top, stack second] (3H) and its own state
  // (T) into four gates, at every transition of every sentence.
  const tracker = T > 0 ? 2 * steps * (3 * H + T) * 4 * T : 0;
  // The TreeLSTM composition: left h, right h and the tracker state into five gates.
  const composition = 2 * reductions * (2 * H + T) * 5 * H;
  return projection + tracker + composition;
}

/** Forward-pass FLOPs of the classifier (MLP over the four pair features) for `pairs` pairs. */
export function classifierFlops(pairs: number, c: ModelConfig): number {
  const features = 4 * c.dHidden;
  if (c.nMlp === 0) return 2 * pairs * features * c.classes;
  return 2 * pairs * (features * c.dMlp + (c.nMlp - 1) * c.dMlp * c.dMlp + c.dMlp * c.classes);
}

/**
 * FLOPs of one training step on an NLI batch: the forward products, and twice as many in the
 * backward pass (each product's gradient needs one product for its input and one for its weight).
 */
export function nliTrainingStepFlops(batch: NliBatch, c: ModelConfig): number {
  const forward =
    spinnEncoderFlops(batch.premise, c) +
    spinnEncoderFlops(batch.hypothesis, c) +
    classifierFlops(batch.labels.length, c);
  return 3 * forward;
}
