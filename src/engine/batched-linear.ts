// A linear layer used at many steps of one pass, whose weight gradient is a few large products
// (one per chunk of consecutive steps) instead of one small product per step (see
// native/src/batched_linear.cpp). Same values and gradients as calling linear() at every step.
import { isGradEnabled } from "./autograd.js";
import { zeros } from "./factories.js";
import { linear } from "./functional.js";
import { native } from "./native.js";
import { adopt, currentScope, type Scope } from "./scope.js";
import { type Tensor, wrap } from "./tensor.js";

/**
 * Rows per chunk: the weight-gradient products' inner dimension. Large enough for BLAS to run
 * near its peak (a product over ~2,000 rows does), small enough that a chunk's output-gradient
 * buffer, which the backward pass allocates, stays a few MB (2,048 × 1,500 floats: 12 MB).
 */
export const CHUNK_ROWS = 2048;

/** One chunk's buffers: its input rows, its output gradients (sized in the backward pass). */
interface Chunk {
  token: Tensor;
  inputs: Tensor;
  outputGrads: Tensor;
  capacity: number;
  used: number;
}

export class BatchedLinear {
  readonly #weight: Tensor;
  readonly #bias: Tensor | null;
  readonly #wantsGrad: boolean;
  /** Where the chunks' tensors live: the scope the layer was made in, not a step's. */
  readonly #scope: Scope | null;
  #chunk: Chunk | null = null;
  #used = 0;

  /**
   * weight: out × in (and bias: out), for a pass whose steps apply it to `rows` rows in all (a
   * bound: the chunks' buffers are sized from it), in chunks of about `chunkRows` rows. The
   * buffers join the current scope, also when made by a step running in an inner one.
   */
  constructor(
    weight: Tensor,
    bias: Tensor | null,
    readonly rows: number,
    readonly chunkRows: number = CHUNK_ROWS,
  ) {
    this.#weight = weight;
    this.#bias = bias;
    this.#wantsGrad = isGradEnabled() && (weight.requiresGrad || (bias?.requiresGrad ?? false));
    this.#scope = currentScope();
  }

  /** x · Wᵀ + b for this step's rows (`rows`: x's row count when the caller knows it). */
  forward(x: Tensor, rows: number = x.shape[0]!): Tensor {
    if (!this.#wantsGrad) return linear(x, this.#weight, this.#bias);
    if (this.#used + rows > this.rows) {
      throw new RangeError(`BatchedLinear: ${this.#used + rows} rows used, but it was made for ${this.rows}`);
    }
    const c = this.#chunkFor(rows);
    const y = wrap(
      native.batchedLinearStep(
        c.token.handle,
        x.handle,
        this.#weight.handle,
        this.#bias?.handle ?? null,
        c.inputs.handle,
        c.outputGrads.handle,
        c.used,
      ),
    );
    c.used += rows;
    this.#used += rows;
    return y;
  }

  /** The chunk this step's rows go to: the current one, or a new one when they do not fit. */
  #chunkFor(rows: number): Chunk {
    const current = this.#chunk;
    if (current && current.used + rows <= current.capacity) return current;
    const capacity = Math.max(rows, Math.min(this.chunkRows, this.rows - this.#used));
    const [out, inp] = this.#weight.shape as [number, number];
    const options = { dtype: this.#weight.dtype, device: this.#weight.device };
    const inputs = adopt(zeros([capacity, inp], options), this.#scope);
    const outputGrads = adopt(zeros([0, out], options), this.#scope);
    const token = adopt(
      wrap(
        native.batchedLinearCollector(
          this.#weight.handle,
          this.#bias?.handle ?? null,
          inputs.handle,
          outputGrads.handle,
        ),
      ),
      this.#scope,
    );
    this.#chunk = { token, inputs, outputGrads, capacity, used: 0 };
    return this.#chunk;
  }
}
