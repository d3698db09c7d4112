/** Element types the engine supports; codes are shared with native/src/common.h. */
export type DType = "float32" | "float64" | "int64" | "bool";

const CODES: Record<DType, number> = { float32: 0, float64: 1, int64: 2, bool: 3 };
const NAMES: DType[] = ["float32", "float64", "int64", "bool"];

export function dtypeCode(dtype: DType): number {
  const code = CODES[dtype];
  if (code === undefined) throw new TypeError(`unknown dtype "${dtype}" (expected ${NAMES.join(", ")})`);
  return code;
}

export function dtypeName(code: number): DType {
  const name = NAMES[code];
  if (name === undefined) throw new TypeError(`unknown dtype code ${code}`);
  return name;
}

/** "cpu", "cuda" (device 0) or "cuda:N". */
export type Device = "cpu" | "cuda" | `cuda:${number}`;

/** Native device code: -1 for the CPU, N for CUDA device N. */
export function deviceCode(device: Device): number {
  if (device === "cpu") return -1;
  if (device === "cuda") return 0;
  const m = /^cuda:(\d+)$/.exec(device);
  if (!m) throw new TypeError(`unknown device "${device}" (expected "cpu", "cuda" or "cuda:N")`);
  return Number(m[1]);
}

export function deviceName(code: number): Device {
  return code < 0 ? "cpu" : `cuda:${code}`;
}

/** Typed arrays a tensor of each dtype reads back into. */
export interface DataOf {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}
