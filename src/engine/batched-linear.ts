// A linear layer used at many steps of one pass, whose weight gradient is one large product at
// the end of the backward pass instead of one small product per step (see
// native/src/batched_linear.cpp). Same values and gradients as calling linear() at every step.
import { isGradEnabled } from "./autograd.js";
import { zeros } from "./factories.js";
import { linear } from "./functional.js";
import { native } from "./native.js";
import { type Tensor, wrap } from "./tensor.js";

export class BatchedLinear {
  readonly #weight: Tensor;
  readonly #bias: Tensor | null;
  /** Null when no gradient is wanted: then forward() is plain linear(). */
  readonly #buffers: { token: Tensor; inputs: Tensor; outputGrads: Tensor } | null;
  #used = 0;

  /**
   * weight: out × in (and bias: out), for a pass whose steps apply it to `rows` rows in all (a
   * bound: rows never used cost memory, not time). The buffers join the current scope.
   */
  constructor(
    weight: Tensor,
    bias: Tensor | null,
    readonly rows: number,
  ) {
    this.#weight = weight;
    this.#bias = bias;
    const wantsGrad = isGradEnabled() && (weight.requiresGrad || (bias?.requiresGrad ?? false));
    if (!wantsGrad) {
      this.#buffers = null;
      return;
    }
    const [out, inp] = weight.shape as [number, number];
    const options = { dtype: weight.dtype, device: weight.device };
    const inputs = zeros([rows, inp], options);
    const outputGrads = zeros([rows, out], options);
    const token = wrap(
      native.batchedLinearCollector(weight.handle, bias?.handle ?? null, inputs.handle, outputGrads.handle),
    );
    this.#buffers = { token, inputs, outputGrads };
  }

  /** x · Wᵀ + b for this step's rows (`rows`: x's row count when the caller knows it). */
  forward(x: Tensor, rows: number = x.shape[0]!): Tensor {
    const b = this.#buffers;
    if (!b) return linear(x, this.#weight, this.#bias);
    if (this.#used + rows > this.rows) {
      throw new RangeError(`BatchedLinear: ${this.#used + rows} rows used, but it was made for ${this.rows}`);
    }
    const y = wrap(
      native.batchedLinearStep(
        b.token.handle,
        x.handle,
        this.#weight.handle,
        this.#bias?.handle ?? null,
        b.inputs.handle,
        b.outputGrads.handle,
        this.#used,
      ),
    );
    this.#used += rows;
    return y;
  }
}
