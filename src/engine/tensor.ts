// The Tensor class: an owned handle to one libtorch tensor, with PyTorch-like methods. Every
// method returns a new Tensor (joining the current scope) and leaves its inputs untouched.
// Methods that only forward to one op (tanh, matmul, narrow, ...) are generated from the op table
// into TensorOps (tensor-ops.generated.ts); the ones written here have logic of their own.
import {
  type DataOf,
  type Device,
  type DType,
  deviceCode,
  deviceName,
  dtypeCode,
  dtypeName,
} from "./dtype.js";
import { native } from "./native.js";
import type { Handle } from "./native-types.js";
import { type Scope, type Scoped, track } from "./scope.js";
import { TensorOps } from "./tensor-ops.generated.js";

export type Reduction = "none" | "mean" | "sum";
const REDUCTIONS: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

export function reductionCode(r: Reduction): number {
  const code = REDUCTIONS[r];
  if (code === undefined) throw new TypeError(`reduction must be "none", "mean" or "sum", got "${r}"`);
  return code;
}

export class Tensor extends TensorOps implements Scoped {
  /** @internal the scope that will dispose this tensor (null: disposed only explicitly). */
  _scope: Scope | null = null;
  /** The native handle; null once disposed, so that the handle can die with this object. */
  #handle: Handle | null;
  #shape: readonly number[] | undefined;
  // A handle's tensor never changes dtype or device: both are read once.
  #dtype: DType | undefined;
  #device: Device | undefined;

  /** @internal wraps a handle the native layer just returned; use the factories instead. */
  constructor(handle: Handle) {
    super();
    this.#handle = handle;
    track(this);
  }

  /** @internal the native handle; throws if the tensor was disposed. */
  override get handle(): Handle {
    const h = this.#handle;
    if (h === null) throw new Error("tensor was disposed and can no longer be used");
    return h;
  }

  get isDisposed(): boolean {
    return this.#handle === null;
  }

  /** Frees the native tensor now. Idempotent. */
  dispose(): void {
    const h = this.#handle;
    if (h === null) return;
    this.#handle = null;
    native.dispose(h);
  }

  /** @internal gives up the handle without freeing it (a scope frees many in one call); null if disposed. */
  _detach(): Handle | null {
    const h = this.#handle;
    this.#handle = null;
    return h;
  }

  // ---- metadata ----
  get shape(): readonly number[] {
    this.#shape ??= Object.freeze(native.shape(this.handle));
    return this.#shape;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }
  get dtype(): DType {
    this.#dtype ??= dtypeName(native.dtype(this.handle));
    return this.#dtype;
  }
  get device(): Device {
    this.#device ??= deviceName(native.device(this.handle));
    return this.#device;
  }
  /** The size of dimension dim (negative counts from the end). */
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? s.length + dim : dim;
    if (d < 0 || d >= s.length)
      throw new RangeError(`dimension ${dim} out of range for a ${s.length}-d tensor`);
    return s[d]!;
  }

  // ---- reading data back ----
  /** A copy of the data, row-major, in the tensor's own element type. */
  data<D extends DType = DType>(): DataOf[D] {
    return native.toData(this.handle) as DataOf[D];
  }
  toFloat32Array(): Float32Array {
    const out = new Float32Array(this.numel);
    native.copyToArray(this.handle, out);
    return out;
  }
  toFloat64Array(): Float64Array {
    const out = new Float64Array(this.numel);
    native.copyToArray(this.handle, out);
    return out;
  }
  toInt32Array(): Int32Array {
    const out = new Int32Array(this.numel);
    native.copyToArray(this.handle, out);
    return out;
  }
  /** The data as plain numbers (bools as 0/1), row-major. */
  toArray(): number[] {
    return Array.from(this.toFloat64Array());
  }

  // ---- elementwise arithmetic (broadcasting; a number is a scalar operand) ----
  add(other: Tensor | number): Tensor {
    return binary(this, other, native.add, native.addScalar);
  }
  sub(other: Tensor | number): Tensor {
    return binary(this, other, native.sub, (h, s) => native.addScalar(h, -s));
  }
  mul(other: Tensor | number): Tensor {
    return binary(this, other, native.mul, native.mulScalar);
  }
  div(other: Tensor | number): Tensor {
    return binary(this, other, native.div, native.divScalar);
  }

  // ---- comparisons (bool results) ----
  eq(other: Tensor | number): Tensor {
    return binary(this, other, native.eq, native.eqScalar);
  }
  lt(other: Tensor | number): Tensor {
    return binary(this, other, native.lt, native.ltScalar);
  }
  gt(other: Tensor | number): Tensor {
    return binary(this, other, native.gt, native.gtScalar);
  }

  // ---- shape ----
  /** Transpose of a 2-d tensor. */
  t(): Tensor {
    return this.transpose(0, 1);
  }
  /** Pieces of `size` along dim (the last may be smaller), or pieces of the given sizes. */
  split(size: number | number[], dim = 0): Tensor[] {
    const hs =
      typeof size === "number"
        ? native.split(this.handle, size, dim)
        : native.splitSizes(this.handle, size, dim);
    return hs.map(wrap);
  }

  // ---- reductions ----
  /** Sum of all elements, or over the given dimensions. */
  sum(dims?: number | number[], keepdim = false): Tensor {
    if (dims === undefined) return wrap(native.sumAll(this.handle));
    return wrap(native.sum(this.handle, typeof dims === "number" ? [dims] : dims, keepdim));
  }
  mean(dims?: number | number[], keepdim = false): Tensor {
    if (dims === undefined) return wrap(native.meanAll(this.handle));
    return wrap(native.mean(this.handle, typeof dims === "number" ? [dims] : dims, keepdim));
  }
  /** Maximum along dim, with the index where it occurs. */
  maxAlong(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.max(this.handle, dim, keepdim).map(wrap);
    return { values: values!, indices: indices! };
  }

  // ---- conversion ----
  to(target: DType | Device): Tensor {
    if (target === "float32" || target === "float64" || target === "int64" || target === "bool") {
      return wrap(native.toDtype(this.handle, dtypeCode(target)));
    }
    return wrap(native.toDevice(this.handle, deviceCode(target)));
  }
  /** Copies src into this tensor in place (no autograd history); returns this. */
  copy_(src: Tensor): this {
    // The op hands back a second handle to this tensor; released now, not left to the collector.
    native.dispose(native.copyInto(this.handle, src.handle));
    return this;
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** Marks a leaf tensor as a parameter whose gradient backward() accumulates. */
  setRequiresGrad(on = true): this {
    native.setRequiresGrad(this.handle, on);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** The accumulated gradient (a new tensor sharing its storage), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : wrap(g);
  }
  /** Forgets the accumulated gradient. */
  zeroGrad(): void {
    native.clearGrad(this.handle);
  }
  /**
   * Backpropagates from this tensor. A non-scalar tensor needs `grad`, the gradient of some
   * scalar with respect to it (same shape).
   */
  backward(grad?: Tensor, options: { retainGraph?: boolean } = {}): void {
    native.backward(this.handle, grad ? grad.handle : null, options.retainGraph ?? false);
  }

  override toString(): string {
    if (this.isDisposed) return "Tensor(disposed)";
    return `Tensor(shape=[${this.shape.join(", ")}], dtype=${this.dtype}, device=${this.device})`;
  }
}

// A tensor-or-number operand: a number goes to the op's scalar form, where libtorch treats it as
// a wrapped number (an int64 tensor plus a whole number stays int64, as in PyTorch).
function binary(
  a: Tensor,
  other: Tensor | number,
  op: (a: Handle, b: Handle) => Handle,
  scalarOp: (a: Handle, s: number) => Handle,
): Tensor {
  return wrap(typeof other === "number" ? scalarOp(a.handle, other) : op(a.handle, other.handle));
}

/** @internal wraps a native result handle. */
export function wrap(handle: Handle): Tensor {
  return new Tensor(handle);
}
