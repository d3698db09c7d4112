// Divergence: a training step whose loss or gradient norm is not a finite number. Training stops
// at once with a DivergenceError, before the optimizer step (so the parameters are not poisoned)
// and without writing a checkpoint or a best model after it: what is on disk is the last good
// state. The checks cost no extra host transfer per step beyond the loss and the gradient norm.
import { noGrad, scope, type Tensor } from "../engine/index.js";

/** What stopped being finite. */
export type DivergedQuantity = "loss" | "gradient norm" | "parameters";

export class DivergenceError extends Error {
  override name = "DivergenceError";

  constructor(
    /** The step that diverged (1-based: the step that would have been counted next). */
    readonly step: number,
    readonly quantity: DivergedQuantity,
    /** The value read back (NaN or ±Infinity; NaN for parameters). */
    readonly value: number,
    /** What is on disk from before the divergence, e.g. "the checkpoint of step 10 in run/last". */
    readonly kept?: string,
  ) {
    const what =
      quantity === "parameters" ? "the parameters are not all finite" : `the ${quantity} is ${value}`;
    super(
      `training diverged at step ${step}: ${what} (try a lower --lr, or --clip)${kept ? `; kept: ${kept}` : ""}`,
    );
  }
}

/** Thrown by trainStep before the update; the trainer re-throws it with the step number. */
export function requireFinite(quantity: DivergedQuantity, value: number, step = 0): void {
  if (!Number.isFinite(value)) throw new DivergenceError(step, quantity, value);
}

/**
 * Whether every parameter is finite, read back as one number: p - p is 0 for a finite value and
 * NaN for NaN or ±Infinity, so the sum over all parameters is 0 exactly when all are finite
 * (unlike a sum or a norm of the values, which a large but finite parameter could overflow).
 */
export function parametersFinite(params: readonly Tensor[]): boolean {
  if (params.length === 0) return true;
  return scope(() =>
    noGrad(() => {
      let total: Tensor | null = null;
      for (const p of params) {
        const s = p.sub(p).sum();
        total = total ? total.add(s) : s;
      }
      return Number.isFinite(total!.item());
    }),
  );
}
