// The Tensor class: an owned handle to one libtorch tensor, with PyTorch-like methods. Every
// method returns a new Tensor (joining the current scope) and leaves its inputs untouched.
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
import { type HandleCell, type Scope, type Scoped, track } from "./scope.js";

export type Reduction = "none" | "mean" | "sum";
const REDUCTIONS: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

export function reductionCode(r: Reduction): number {
  const code = REDUCTIONS[r];
  if (code === undefined) throw new TypeError(`reduction must be "none", "mean" or "sum", got "${r}"`);
  return code;
}

export class Tensor implements Scoped {
  /** @internal the scope that will dispose this tensor (null: disposed only explicitly). */
  _scope: Scope | null = null;
  /** The handle, shared with the safety net (scope.ts), which must not keep it after dispose(). */
  readonly #cell: HandleCell;
  #shape: readonly number[] | undefined;

  /** @internal wraps a handle the native layer just returned; use the factories instead. */
  constructor(handle: Handle) {
    this.#cell = { handle };
    track(this, this.#cell);
  }

  /** @internal the native handle; throws if the tensor was disposed. */
  get handle(): Handle {
    const h = this.#cell.handle;
    if (h === null) throw new Error("tensor was disposed and can no longer be used");
    return h;
  }

  get isDisposed(): boolean {
    return this.#cell.handle === null;
  }

  /** Frees the native tensor now. Idempotent. */
  dispose(): void {
    const h = this.#cell.handle;
    if (h === null) return;
    this.#cell.handle = null;
    native.dispose(h);
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
    return dtypeName(native.dtype(this.handle));
  }
  get device(): Device {
    return deviceName(native.device(this.handle));
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
  /** The value of a one-element tensor. */
  item(): number {
    return native.item(this.handle);
  }

  // ---- elementwise arithmetic (broadcasting; a number is a scalar operand) ----
  add(other: Tensor | number): Tensor {
    return typeof other === "number"
      ? wrap(native.addScalar(this.handle, other))
      : wrap(native.add(this.handle, other.handle));
  }
  sub(other: Tensor | number): Tensor {
    return typeof other === "number"
      ? wrap(native.addScalar(this.handle, -other))
      : wrap(native.sub(this.handle, other.handle));
  }
  /** other - this */
  rsub(other: number): Tensor {
    return wrap(native.rsubScalar(this.handle, other));
  }
  mul(other: Tensor | number): Tensor {
    return typeof other === "number"
      ? wrap(native.mulScalar(this.handle, other))
      : wrap(native.mul(this.handle, other.handle));
  }
  div(other: Tensor | number): Tensor {
    return typeof other === "number"
      ? wrap(native.divScalar(this.handle, other))
      : wrap(native.div(this.handle, other.handle));
  }
  pow(exponent: number): Tensor {
    return wrap(native.powScalar(this.handle, exponent));
  }
  maximum(other: Tensor): Tensor {
    return wrap(native.maximum(this.handle, other.handle));
  }
  minimum(other: Tensor): Tensor {
    return wrap(native.minimum(this.handle, other.handle));
  }
  clamp(min: number, max: number): Tensor {
    return wrap(native.clamp(this.handle, min, max));
  }
  neg(): Tensor {
    return wrap(native.neg(this.handle));
  }
  abs(): Tensor {
    return wrap(native.abs(this.handle));
  }
  sqrt(): Tensor {
    return wrap(native.sqrt(this.handle));
  }
  square(): Tensor {
    return wrap(native.square(this.handle));
  }
  sigmoid(): Tensor {
    return wrap(native.sigmoid(this.handle));
  }
  tanh(): Tensor {
    return wrap(native.tanh(this.handle));
  }
  relu(): Tensor {
    return wrap(native.relu(this.handle));
  }
  exp(): Tensor {
    return wrap(native.exp(this.handle));
  }
  log(): Tensor {
    return wrap(native.log(this.handle));
  }

  // ---- comparisons and logic (bool results) ----
  eq(other: Tensor | number): Tensor {
    return typeof other === "number"
      ? wrap(native.eqScalar(this.handle, other))
      : wrap(native.eq(this.handle, other.handle));
  }
  ne(other: Tensor): Tensor {
    return wrap(native.ne(this.handle, other.handle));
  }
  lt(other: Tensor | number): Tensor {
    return typeof other === "number"
      ? wrap(native.ltScalar(this.handle, other))
      : wrap(native.lt(this.handle, other.handle));
  }
  le(other: Tensor): Tensor {
    return wrap(native.le(this.handle, other.handle));
  }
  gt(other: Tensor | number): Tensor {
    return typeof other === "number"
      ? wrap(native.gtScalar(this.handle, other))
      : wrap(native.gt(this.handle, other.handle));
  }
  ge(other: Tensor): Tensor {
    return wrap(native.ge(this.handle, other.handle));
  }
  logicalAnd(other: Tensor): Tensor {
    return wrap(native.logicalAnd(this.handle, other.handle));
  }
  logicalOr(other: Tensor): Tensor {
    return wrap(native.logicalOr(this.handle, other.handle));
  }
  logicalNot(): Tensor {
    return wrap(native.logicalNot(this.handle));
  }
  /** Where mask is true, value; elsewhere this tensor's element. */
  maskedFill(mask: Tensor, value: number): Tensor {
    return wrap(native.maskedFill(this.handle, mask.handle, value));
  }

  // ---- linear algebra ----
  matmul(other: Tensor): Tensor {
    return wrap(native.matmul(this.handle, other.handle));
  }
  mm(other: Tensor): Tensor {
    return wrap(native.mm(this.handle, other.handle));
  }
  bmm(other: Tensor): Tensor {
    return wrap(native.bmm(this.handle, other.handle));
  }

  // ---- shape ----
  reshape(...shape: number[]): Tensor {
    return wrap(native.reshape(this.handle, shape));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(native.transpose(this.handle, dim0, dim1));
  }
  /** Transpose of a 2-d tensor. */
  t(): Tensor {
    return this.transpose(0, 1);
  }
  permute(...dims: number[]): Tensor {
    return wrap(native.permute(this.handle, dims));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(native.narrow(this.handle, dim, start, length));
  }
  select(dim: number, index: number): Tensor {
    return wrap(native.select(this.handle, dim, index));
  }
  squeeze(dim: number): Tensor {
    return wrap(native.squeeze(this.handle, dim));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(native.unsqueeze(this.handle, dim));
  }
  expand(...shape: number[]): Tensor {
    return wrap(native.expand(this.handle, shape));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(native.flatten(this.handle, startDim, endDim));
  }
  contiguous(): Tensor {
    return wrap(native.contiguous(this.handle));
  }
  /** Pieces of `size` along dim (the last may be smaller), or pieces of the given sizes. */
  split(size: number | number[], dim = 0): Tensor[] {
    const hs =
      typeof size === "number"
        ? native.split(this.handle, size, dim)
        : native.splitSizes(this.handle, size, dim);
    return hs.map(wrap);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return native.chunk(this.handle, chunks, dim).map(wrap);
  }

  // ---- indexing ----
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(native.indexSelect(this.handle, dim, index.handle));
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(native.gather(this.handle, dim, index.handle));
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(native.scatterAdd(this.handle, dim, index.handle, src.handle));
  }
  indexAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(native.indexAdd(this.handle, dim, index.handle, src.handle));
  }
  indexCopy(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(native.indexCopy(this.handle, dim, index.handle, src.handle));
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
  /** Maximum of all elements. */
  max(): Tensor {
    return wrap(native.maxAll(this.handle));
  }
  /** Maximum along dim, with the index where it occurs. */
  maxAlong(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = native.max(this.handle, dim, keepdim).map(wrap);
    return { values: values!, indices: indices! };
  }
  min(): Tensor {
    return wrap(native.minAll(this.handle));
  }
  argmax(dim: number, keepdim = false): Tensor {
    return wrap(native.argmax(this.handle, dim, keepdim));
  }
  /** L2 norm of all elements. */
  norm(): Tensor {
    return wrap(native.norm(this.handle));
  }
  softmax(dim: number): Tensor {
    return wrap(native.softmax(this.handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(native.logSoftmax(this.handle, dim));
  }

  // ---- conversion ----
  to(target: DType | Device): Tensor {
    if (target === "float32" || target === "float64" || target === "int64" || target === "bool") {
      return wrap(native.toDtype(this.handle, dtypeCode(target)));
    }
    return wrap(native.toDevice(this.handle, deviceCode(target)));
  }
  clone(): Tensor {
    return wrap(native.clone(this.handle));
  }
  /** The same data, cut from the autograd graph. */
  detach(): Tensor {
    return wrap(native.detach(this.handle));
  }
  /** Copies src into this tensor in place (no autograd history); returns this. */
  copy_(src: Tensor): this {
    native.copyInto(this.handle, src.handle);
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

  toString(): string {
    if (this.isDisposed) return "Tensor(disposed)";
    return `Tensor(shape=[${this.shape.join(", ")}], dtype=${this.dtype}, device=${this.device})`;
  }
}

/** @internal wraps a native result handle. */
export function wrap(handle: Handle): Tensor {
  return new Tensor(handle);
}
