// The thin stack's state memory as a TS object: rows are appended with write() and gathered
// with read(); gradients flow sparsely (see native/src/state_memory.cpp). Row indices are
// Int32Arrays because the stack schedule is computed in typed arrays on the host.
import { isGradEnabled } from "./autograd.js";
import type { Device, DType } from "./dtype.js";
import { zeros } from "./factories.js";
import { native } from "./native.js";
import { adopt, currentScope, type Scope } from "./scope.js";
import { type Tensor, wrap } from "./tensor.js";

export class StateMemory {
  readonly rows: number;
  readonly width: number;
  readonly #memory: Tensor;
  readonly #grad: Tensor;
  #token: Tensor;
  readonly #scope: Scope | null;

  /**
   * A memory of `rows` rows of `width` values. Its tensors join the current scope like any
   * other, also when written from inner scopes (a loop may run each step in a scope of its own);
   * outside a scope call dispose(). A memory serves one forward and one backward pass (the
   * gradient buffer is not cleared between backward passes); one made without gradients
   * (noGrad) has no gradient buffer.
   */
  constructor(rows: number, width: number, options: { dtype?: DType; device?: Device } = {}) {
    this.rows = rows;
    this.width = width;
    this.#memory = zeros([rows, width], options);
    this.#grad = zeros([isGradEnabled() ? rows : 0, width], options);
    this.#token = zeros([], options);
    this.#scope = currentScope();
  }

  /** Stores values (rows.length × width) at the given rows; each row should be written once. */
  write(rows: Int32Array, values: Tensor): void {
    const next = wrap(
      native.stateWrite(this.#token.handle, this.#memory.handle, this.#grad.handle, rows, values.handle),
    );
    // The graph (if any) holds the old token; this object needs only the newest.
    this.#token.dispose();
    this.#token = adopt(next, this.#scope);
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
    return wrap(
      native.stateGather(
        this.#token.handle,
        this.#memory.handle,
        this.#grad.handle,
        rows,
        group,
        start,
        count,
      ),
    );
  }

  /**
   * The memory's values (rows × width), not differentiable: for ops that keep row indices into
   * the memory instead of copies of its rows (BatchedLinear.forwardGathered).
   */
  get values(): Tensor {
    return this.#memory;
  }

  dispose(): void {
    this.#memory.dispose();
    this.#grad.dispose();
    this.#token.dispose();
  }
}
