// The thin stack's state memory as a TS object: rows are appended with write() and gathered
// with read(); gradients flow sparsely (see native/src/state_memory.cpp). Row indices are
// Int32Arrays because the stack schedule is computed in typed arrays on the host. The recurrent
// cells can also run inside a memory (writeTreeLstmCell, writeLstmCell: native/src/cells.cpp),
// reading their previous cells from its rows and writing their output to it in one call.
import { isGradEnabled } from "./autograd.js";
import type { Device, DType } from "./dtype.js";
import { zeros } from "./factories.js";
import { native } from "./native.js";
import type { GatherArg, Handle } from "./native-types.js";
import { keep } from "./scope.js";
import { type Tensor, wrap } from "./tensor.js";

/**
 * Part of a gathered input (StateMemory.gather's arguments): `group` rows of `memory` per input
 * row, columns [start, start + count) of each, side by side.
 */
export interface GatherPart {
  memory: StateMemory;
  rows: Int32Array;
  group: number;
  start: number;
  count: number;
}

/** The rows a gather of these parts makes. */
export function gatheredRows(parts: readonly GatherPart[]): number {
  const first = parts[0];
  return first ? first.rows.length / first.group : 0;
}

export class StateMemory {
  readonly rows: number;
  readonly width: number;
  readonly #memory: Tensor;
  readonly #grad: Tensor;
  /**
   * The ordering token of the memory's reads and writes (native/src/state_memory.cpp): each
   * write leaves the next token in this same handle.
   */
  readonly #token: Tensor;

  /**
   * A memory of `rows` rows of `width` values. Its tensors join the current scope like any
   * other, and stay there when written from inner scopes (a loop may run each step in a scope of
   * its own: a write makes no new handle); outside a scope call dispose(). A memory serves one
   * forward and one backward pass (the gradient buffer is not cleared between backward passes);
   * one made without gradients (noGrad) has no gradient buffer.
   */
  constructor(rows: number, width: number, options: { dtype?: DType; device?: Device } = {}) {
    this.rows = rows;
    this.width = width;
    this.#memory = zeros([rows, width], options);
    this.#grad = zeros([isGradEnabled() ? rows : 0, width], options);
    this.#token = zeros([], options);
  }

  /** Stores values (rows.length × width) at the given rows; each row should be written once. */
  write(rows: Int32Array, values: Tensor): void {
    const h = this.#handles();
    native.stateWrite(h[0], h[1], h[2], rows, values.handle);
  }

  /** The given rows (rows.length × width), differentiable with respect to what was written there. */
  read(rows: Int32Array): Tensor {
    return wrap(native.stateRead(this.#token.handle, this.#memory.handle, this.#grad.handle, rows));
  }

  /**
   * Columns [start, start + count) of `group` rows per output row, side by side: output row j is
   * [row rows[j·group] | … | row rows[j·group + group − 1]], each cut to those columns
   * (rows.length / group × group·count). read(rows).narrow(1, start, count).reshape(…) in one
   * native call, differentiable likewise.
   */
  gather(rows: Int32Array, group: number, start: number, count: number): Tensor {
    return StateMemory.gatherParts([{ memory: this, rows, group, start, count }]);
  }

  /**
   * Several gathers side by side (R × the sum of their widths): cat(parts.map((p) =>
   * p.memory.gather(p.rows, p.group, p.start, p.count)), 1) in one native call, with the same
   * values and gradients. The parts may read different memories; each makes R rows.
   */
  static gatherParts(parts: readonly GatherPart[]): Tensor {
    return wrap(native.stateGather(...StateMemory.gatherArgs(parts)));
  }

  /**
   * The parts as the native ops that gather them take them (stateGather, and the products that
   * gather their input in the same call: gatheredLinear, batchedLinearGatherStep). For the engine.
   */
  static gatherArgs(parts: readonly GatherPart[]): GatherArg[] {
    const args: GatherArg[] = [];
    for (const p of parts) {
      const m = p.memory;
      args.push(m.#token.handle, m.#memory.handle, m.#grad.handle, p.rows, p.group, p.start, p.count);
    }
    return args;
  }

  /**
   * The TreeLSTM cell inside this memory of [h | c] rows (width 2H): writes
   * treeLstmCell(gates, c of rows left, c of rows right) to rows `out`, in one native call. The
   * same values and gradients as write(out, treeLstmCell(gates, gather(left, 1, H, H),
   * gather(right, 1, H, H))); the cell keeps only its activated gates for the backward pass (the
   * previous cells and its output are rows of the memory).
   */
  writeTreeLstmCell(out: Int32Array, gates: Tensor, left: Int32Array, right: Int32Array): void {
    const h = this.#handles();
    native.treeLstmCellInMemory(h[0], h[1], h[2], gates.handle, left, right, out);
  }

  /**
   * The LSTM cell inside this memory of [h | c] rows (width 2H): writes lstmCell(gates, c of rows
   * `previous`) to rows `out`, in one native call; as writeTreeLstmCell.
   */
  writeLstmCell(out: Int32Array, gates: Tensor, previous: Int32Array): void {
    const h = this.#handles();
    native.lstmCellInMemory(h[0], h[1], h[2], gates.handle, previous, out);
  }

  #handles(): [Handle, Handle, Handle] {
    return [this.#token.handle, this.#memory.handle, this.#grad.handle];
  }

  /**
   * The memory's values (rows × width), not differentiable: for ops that keep row indices into
   * the memory instead of copies of its rows (BatchedLinear.forwardGathered).
   */
  get values(): Tensor {
    return this.#memory;
  }

  /**
   * Takes the memory out of every scope: it lives until dispose(), also when made inside a
   * scope (a memory that outlives the step that had to grow it).
   */
  keep(): this {
    for (const t of [this.#memory, this.#grad, this.#token]) keep(t);
    return this;
  }

  dispose(): void {
    this.#memory.dispose();
    this.#grad.dispose();
    this.#token.dispose();
  }
}
