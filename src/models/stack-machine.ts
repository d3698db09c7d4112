// The thin stack's bookkeeping (docs/ARCHITECTURE.md, "The thin stack"): for a batch of sentences, stacks and buffers are
// integer row indices into one state memory, kept in typed arrays on the host. The machine
// applies one transition per example per step and reports, as typed arrays, the handful of row
// lists the encoder's batched ops need. No tensors here: the same machine serves given,
// predicted and sampled transitions.
//
// Memory layout: rows [0, leafCount) hold the leaves (sentence i's token j at leafOffset[i] + j),
// row `nullRow` (= leafCount) is the state of an empty slot, and each REDUCE appends one row.
import { REDUCE, SHIFT } from "../data/transitions.js";

export interface ReduceStep {
  /** Examples that reduce at this step. */
  examples: Int32Array;
  left: Int32Array;
  right: Int32Array;
  /** Row each composition is written to. */
  out: Int32Array;
}

export class StackMachine {
  readonly size: number;
  readonly leafCount: number;
  readonly nullRow: number;
  /** Rows the memory needs: leaves, the null row, one per REDUCE of a full tree. */
  readonly rowCount: number;
  readonly lengths: Int32Array;
  readonly leafOffset: Int32Array;
  #nextRow: number;
  readonly #stack: Int32Array; // size × maxLength, each example's stack bottom-up
  readonly #depth: Int32Array;
  readonly #shifted: Int32Array;
  readonly #width: number;

  constructor(lengths: Int32Array) {
    this.size = lengths.length;
    this.lengths = lengths;
    this.leafOffset = new Int32Array(this.size);
    let total = 0;
    let width = 1;
    for (let i = 0; i < this.size; i++) {
      const n = lengths[i]!;
      if (n < 1) throw new RangeError(`sentence ${i} is empty: every sentence needs at least one token`);
      this.leafOffset[i] = total;
      total += n;
      width = Math.max(width, n);
    }
    this.leafCount = total;
    this.nullRow = total;
    this.rowCount = total + 1 + (total - this.size);
    this.#nextRow = total + 1;
    this.#width = width;
    this.#stack = new Int32Array(this.size * width);
    this.#depth = new Int32Array(this.size);
    this.#shifted = new Int32Array(this.size);
  }

  canShift(i: number): boolean {
    return this.#shifted[i]! < this.lengths[i]!;
  }

  canReduce(i: number): boolean {
    return this.#depth[i]! >= 2;
  }

  /** True once example i has shifted every token and reduced to a single tree. */
  isDone(i: number): boolean {
    return this.#shifted[i]! === this.lengths[i]! && this.#depth[i]! === 1;
  }

  /**
   * The rows the tracker reads before a step, three per example (buffer top, stack top, stack
   * second; the null row for an empty slot), interleaved: out[3i], out[3i+1], out[3i+2].
   */
  trackerRows(out: Int32Array = new Int32Array(3 * this.size)): Int32Array {
    const w = this.#width;
    for (let i = 0; i < this.size; i++) {
      const d = this.#depth[i]!;
      out[3 * i] = this.canShift(i) ? this.leafOffset[i]! + this.#shifted[i]! : this.nullRow;
      out[3 * i + 1] = d >= 1 ? this.#stack[i * w + d - 1]! : this.nullRow;
      out[3 * i + 2] = d >= 2 ? this.#stack[i * w + d - 2]! : this.nullRow;
    }
    return out;
  }

  /**
   * Applies one action per example (SHIFT, REDUCE, or anything else for "no move"). An action
   * the state does not allow is an error naming the example and step.
   */
  apply(actions: Uint8Array, step: number): ReduceStep {
    const w = this.#width;
    let reduces = 0;
    for (let i = 0; i < this.size; i++) {
      const a = actions[i];
      if (a === REDUCE) {
        if (!this.canReduce(i))
          throw new Error(`example ${i}, step ${step}: REDUCE with fewer than two items on the stack`);
        reduces++;
      } else if (a === SHIFT && !this.canShift(i)) {
        throw new Error(`example ${i}, step ${step}: SHIFT with an empty buffer`);
      }
    }
    const r: ReduceStep = {
      examples: new Int32Array(reduces),
      left: new Int32Array(reduces),
      right: new Int32Array(reduces),
      out: new Int32Array(reduces),
    };
    let k = 0;
    for (let i = 0; i < this.size; i++) {
      const a = actions[i];
      const d = this.#depth[i]!;
      if (a === SHIFT) {
        this.#stack[i * w + d] = this.leafOffset[i]! + this.#shifted[i]!;
        this.#shifted[i]!++;
        this.#depth[i] = d + 1;
      } else if (a === REDUCE) {
        r.examples[k] = i;
        r.left[k] = this.#stack[i * w + d - 2]!;
        r.right[k] = this.#stack[i * w + d - 1]!;
        const row = this.#nextRow++;
        r.out[k] = row;
        this.#stack[i * w + d - 2] = row;
        this.#depth[i] = d - 1;
        k++;
      }
    }
    return r;
  }

  /** The row of each example's stack top (its sentence encoding once done). */
  topRows(): Int32Array {
    const out = new Int32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const d = this.#depth[i]!;
      out[i] = d >= 1 ? this.#stack[i * this.#width + d - 1]! : this.nullRow;
    }
    return out;
  }
}
