// A linear layer used at many steps of one pass, whose weight gradient is a few large products
// (one per chunk of consecutive steps) instead of one small product per step (see
// native/src/batched_linear.cpp). Same values and gradients as calling linear() at every step.
import { isGradEnabled } from "./autograd.js";
import { zeros } from "./factories.js";
import { linear } from "./functional.js";
import { native } from "./native.js";
import { adopt, currentScope, type Scope } from "./scope.js";
import { type GatherPart, gatheredRows, StateMemory } from "./state-memory.js";
import { type Tensor, wrap } from "./tensor.js";

/**
 * Rows per chunk: the weight-gradient products' inner dimension. Large enough for BLAS to run
 * near its peak (a product over ~2,000 rows does), small enough that a chunk's output-gradient
 * buffer, which the backward pass allocates, stays a few MB (2,048 × 1,500 floats: 12 MB).
 */
export const CHUNK_ROWS = 2048;

/**
 * One chunk's buffers: its input rows (dense) or their row indices into the parts' memories
 * (gathered: one capacity × group int64 tensor per part), its output gradients (sized in the
 * backward pass).
 */
interface Chunk {
  token: Tensor;
  inputs: Tensor | null;
  indices: Tensor[] | null;
  memories: StateMemory[];
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
    const c = this.#chunkFor(rows, null);
    const y = wrap(
      native.batchedLinearStep(
        c.token.handle,
        x.handle,
        this.#weight.handle,
        this.#bias?.handle ?? null,
        c.inputs!.handle,
        c.outputGrads.handle,
        c.used,
      ),
    );
    return this.#advance(c, rows, y);
  }

  /**
   * forward(StateMemory.gatherParts(parts)) in one native call: the product of the gathered
   * input [parts[0] | parts[1]] (one or two parts, side by side), with the same values and
   * gradients, but the step keeps only the row indices, and the weight gradient gathers the
   * chunk's rows again from the memories (which hold every row once written, unchanged) instead
   * of keeping a copy of the input. The parts' memories and columns must stay the same for the
   * pass.
   */
  forwardGathered(parts: GatherPart[]): Tensor {
    const gather = StateMemory.gatherArgs(parts);
    const bias = this.#bias?.handle ?? null;
    if (!this.#wantsGrad) return wrap(native.gatheredLinear(this.#weight.handle, bias, ...gather));
    const rows = gatheredRows(parts);
    const c = this.#chunkFor(rows, parts);
    const indices = c.indices!.map((t) => t.handle);
    const y = native.batchedLinearGatherStep(
      c.token.handle,
      this.#weight.handle,
      bias,
      c.outputGrads.handle,
      c.used,
      indices,
      ...gather,
    );
    return this.#advance(c, rows, wrap(y));
  }

  #advance(c: Chunk, rows: number, y: Tensor): Tensor {
    c.used += rows;
    this.#used += rows;
    return y;
  }

  /**
   * The chunk this step's rows go to: the current one, or a new one when they do not fit (for
   * a gathered input, `parts` say where its rows come from; null for a dense one).
   */
  #chunkFor(rows: number, parts: GatherPart[] | null): Chunk {
    if (this.#used + rows > this.rows) {
      throw new RangeError(`BatchedLinear: ${this.#used + rows} rows used, but it was made for ${this.rows}`);
    }
    const current = this.#chunk;
    if (current && (current.indices !== null) !== (parts !== null)) {
      throw new Error("BatchedLinear: a pass uses forward() or forwardGathered(), not both");
    }
    if (parts && current && parts.some((p, k) => p.memory !== current.memories[k])) {
      throw new Error("BatchedLinear: a pass gathers from the same memories at every step");
    }
    if (current && current.used + rows <= current.capacity) return current;
    const capacity = Math.max(rows, Math.min(this.chunkRows, this.rows - this.#used));
    const [out, inp] = this.#weight.shape as [number, number];
    const options = { dtype: this.#weight.dtype, device: this.#weight.device };
    const outputGrads = adopt(zeros([0, out], options), this.#scope);
    const chunk: Chunk = parts
      ? this.#gatheredChunk(parts, capacity, outputGrads)
      : this.#denseChunk(adopt(zeros([capacity, inp], options), this.#scope), capacity, outputGrads);
    this.#chunk = chunk;
    return chunk;
  }

  #denseChunk(inputs: Tensor, capacity: number, outputGrads: Tensor): Chunk {
    const token = native.batchedLinearCollector(
      this.#weight.handle,
      this.#bias?.handle ?? null,
      inputs.handle,
      outputGrads.handle,
    );
    const t = adopt(wrap(token), this.#scope);
    return { token: t, inputs, indices: null, memories: [], outputGrads, capacity, used: 0 };
  }

  #gatheredChunk(parts: GatherPart[], capacity: number, outputGrads: Tensor): Chunk {
    if (parts.length < 1 || parts.length > 2)
      throw new RangeError("BatchedLinear: one or two gathered parts");
    // Row 0 for rows no step uses: their output gradients stay zero.
    const indices = parts.map((p) => adopt(zeros([capacity, p.group], { dtype: "int64" }), this.#scope));
    const [a, b] = parts as [GatherPart, GatherPart | undefined];
    const token = native.batchedLinearGatherCollector(
      this.#weight.handle,
      this.#bias?.handle ?? null,
      outputGrads.handle,
      a.memory.values.handle,
      indices[0]!.handle,
      a.start,
      a.count,
      b?.memory.values.handle ?? null,
      indices[1]?.handle ?? null,
      b?.start ?? 0,
      b?.count ?? 0,
    );
    const t = adopt(wrap(token), this.#scope);
    const memories = parts.map((p) => p.memory);
    return { token: t, inputs: null, indices, memories, outputGrads, capacity, used: 0 };
  }
}
