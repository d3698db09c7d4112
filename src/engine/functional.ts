// Ops over several tensors, and layers' building blocks, as plain functions.
import { native } from "./native.js";
import { type Reduction, reductionCode, type Tensor, wrap } from "./tensor.js";

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(
    native.cat(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(
    native.stack(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}

/** Elementwise choice: a where cond is true, else b (broadcasting). */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return wrap(native.where(cond.handle, a.handle, b.handle));
}

/** x Wᵀ + b, as torch.nn.functional.linear (weight is out × in). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return wrap(native.linear(x.handle, weight.handle, bias ? bias.handle : null));
}

/** bias + a b (bias broadcast over rows). */
export function addmm(bias: Tensor, a: Tensor, b: Tensor): Tensor {
  return wrap(native.addmm(bias.handle, a.handle, b.handle));
}

/** Rows of weight picked by integer indices; paddingIdx's row receives no gradient. */
export function embedding(weight: Tensor, indices: Tensor, paddingIdx = -1): Tensor {
  return wrap(native.embedding(weight.handle, indices.handle, paddingIdx));
}

/** Cross-entropy of unnormalised logits (N × C) against class indices (N). */
export function crossEntropy(logits: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor {
  return wrap(native.crossEntropy(logits.handle, target.handle, reductionCode(reduction)));
}

/** Negative log-likelihood of log-probabilities (N × C) against class indices (N). */
export function nllLoss(logProbs: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor {
  return wrap(native.nllLoss(logProbs.handle, target.handle, reductionCode(reduction)));
}

/**
 * Where a tensor's rows sit in a larger batch: global row `index[r]` (an integer tensor, one per row), or
 * `offset + r`. Parts of one batch given their rows draw exactly the whole batch's mask rows.
 */
export interface DropoutRows {
  index?: Tensor | null;
  offset?: number;
}

/**
 * Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p) when training. Each
 * call takes one draw from the seeded CPU generator; element (row, column) of the mask depends
 * only on that draw and its global position (`rows`), not on the device or on how the batch is split.
 */
export function dropout(x: Tensor, p: number, training: boolean, rows: DropoutRows = {}): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout probability must be in [0, 1), got ${p}`);
  return wrap(native.dropout(x.handle, p, training, rows.index?.handle ?? null, rows.offset ?? 0));
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  /** Training normalises with batch statistics and updates the running ones in place. */
  training: boolean;
  momentum?: number;
  eps?: number;
}

export function batchNorm(x: Tensor, o: BatchNormOptions): Tensor {
  return wrap(
    native.batchNorm(
      x.handle,
      o.weight?.handle ?? null,
      o.bias?.handle ?? null,
      o.runningMean?.handle ?? null,
      o.runningVar?.handle ?? null,
      o.training,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
    ),
  );
}

export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  return wrap(
    native.layerNorm(x.handle, [...normalizedShape], weight?.handle ?? null, bias?.handle ?? null, eps),
  );
}

/** n draws of category indices from each row of (unnormalised) probabilities. */
export function multinomial(probs: Tensor, n: number, replacement = false): Tensor {
  return wrap(native.multinomial(probs.handle, n, replacement));
}

/** 1 with probability p, elementwise. */
export function bernoulli(p: Tensor): Tensor {
  return wrap(native.bernoulli(p.handle));
}

/**
 * The TreeLSTM composition's elementwise maths as one fused op (native/src/cells.cpp): from the
 * gates [a, i, f1, f2, o] (R × 5H) and the children's cells (R × H each),
 * c = tanh(a)·σ(i) + σ(f1)·c_left + σ(f2)·c_right and h = σ(o)·tanh(c); returns [h | c] (R × 2H).
 */
export function treeLstmCell(gates: Tensor, leftCell: Tensor, rightCell: Tensor): Tensor {
  return wrap(native.treeLstmCell(gates.handle, leftCell.handle, rightCell.handle));
}

/**
 * The LSTM cell's elementwise maths as one fused op: from the gates [i, f, g, o] (R × 4H) and the
 * previous cell (R × H), c = σ(f)·c_prev + σ(i)·tanh(g) and h = σ(o)·tanh(c); returns [h | c].
 */
export function lstmCell(gates: Tensor, prevCell: Tensor): Tensor {
  return wrap(native.lstmCell(gates.handle, prevCell.handle));
}
