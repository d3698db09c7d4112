// Creating tensors: from JS data, filled, ranges and seeded random draws.
import { type Device, type DType, deviceCode, dtypeCode } from "./dtype.js";
import { native } from "./native.js";
import type { Handle } from "./native-types.js";
import { type Tensor, wrap } from "./tensor.js";

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

type NestedNumbers = number | boolean | NestedNumbers[];
type HostArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

function inferDtype(data: HostArray | NestedNumbers): DType {
  if (data instanceof Float64Array) return "float64";
  if (data instanceof BigInt64Array || data instanceof Int32Array) return "int64";
  if (data instanceof Uint8Array) return "bool";
  return "float32";
}

/** Shape and flat values of nested arrays; ragged nesting is an error. */
function flattenNested(data: NestedNumbers): { shape: number[]; values: (number | boolean)[] } {
  const shape: number[] = [];
  for (let d: NestedNumbers = data; Array.isArray(d); d = d[0] as NestedNumbers) {
    shape.push(d.length);
    if (d.length === 0) break;
  }
  const values: (number | boolean)[] = [];
  const walk = (d: NestedNumbers, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(d)) throw new TypeError("ragged nested array: every row must have the same length");
      values.push(d);
      return;
    }
    if (!Array.isArray(d) || d.length !== shape[depth]) {
      throw new TypeError("ragged nested array: every row must have the same length");
    }
    for (const x of d) walk(x, depth + 1);
  };
  walk(data, 0);
  return { shape, values };
}

// What every factory does around its native call: the options' dtype (or the factory's default)
// and device as native codes, the new handle wrapped, and requiresGrad applied.
function create(
  options: TensorOptions,
  defaultDtype: DType,
  make: (dtype: number, device: number) => Handle,
): Tensor {
  const t = wrap(make(dtypeCode(options.dtype ?? defaultDtype), deviceCode(options.device ?? "cpu")));
  if (options.requiresGrad) t.setRequiresGrad(true);
  return t;
}

/**
 * A tensor holding a copy of `data`: nested number arrays (shape inferred), or a flat typed
 * array with `shape` given (defaults to 1-d). The dtype defaults to the typed array's own
 * (Int32Array becomes int64, Uint8Array bool) and to float32 for plain numbers.
 */
export function tensor(
  data: HostArray | NestedNumbers,
  options: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  return create(options, inferDtype(data), (dtype, device) => {
    if (ArrayBuffer.isView(data)) {
      return native.fromData(data, options.shape ? [...options.shape] : [data.length], dtype, device);
    }
    const { shape, values } = flattenNested(data);
    return native.fromData(values, options.shape ? [...options.shape] : shape, dtype, device);
  });
}

export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  return create(options, "float32", (dtype, device) => native.full([...shape], value, dtype, device));
}

export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

export function zerosLike(t: Tensor): Tensor {
  return wrap(native.zerosLike(t.handle));
}

/** 0, 1, ..., end-1 (int64 unless a dtype is given). */
export function arange(end: number, options: TensorOptions & { start?: number; step?: number } = {}): Tensor {
  return create(options, "int64", (dtype, device) =>
    native.arange(options.start ?? 0, end, options.step ?? 1, dtype, device),
  );
}

/** Standard normal draws from the engine's seeded generator (see manualSeed). */
export function randn(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return create(options, "float32", (dtype, device) => native.randn([...shape], dtype, device));
}

/** Uniform draws in [0, 1) from the engine's seeded generator. */
export function rand(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return create(options, "float32", (dtype, device) => native.rand([...shape], dtype, device));
}

/** Seeds libtorch's generators (CPU and every CUDA device): same seed, same draws. */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

/** The CPU generator's state, to restore with setRngState (exact resume of dropout draws). */
export function getRngState(): Uint8Array {
  return native.getRngState();
}

export function setRngState(state: Uint8Array): void {
  native.setRngState(state);
}
