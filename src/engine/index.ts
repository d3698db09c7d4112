// The tensor engine's public API.
export { isGradEnabled, noGrad } from "./autograd.js";
export type { Device, DType } from "./dtype.js";
export { TorchError } from "./errors.js";
export {
  arange,
  full,
  getRngState,
  manualSeed,
  ones,
  rand,
  randn,
  setRngState,
  type TensorOptions,
  tensor,
  zeros,
  zerosLike,
} from "./factories.js";
export {
  addmm,
  batchNorm,
  bernoulli,
  cat,
  crossEntropy,
  dropout,
  embedding,
  layerNorm,
  linear,
  multinomial,
  nllLoss,
  stack,
  where,
} from "./functional.js";
export { BatchNorm, Linear, LSTMCell, ParameterStore, ParamPath, type StoreOptions } from "./module.js";
export { type NativeBinding, native, type RuntimeInfo } from "./native.js";
export { Adam, clipGradNorm, Optimizer, type OptimizerState, type ParamList, RMSprop, SGD } from "./optim.js";
export {
  deserialize,
  type LoadedTensors,
  loadSafetensors,
  type NamedTensors,
  SafetensorsError,
  saveSafetensors,
  serialize,
} from "./safetensors.js";
export { type EngineMemory, keep, memory, moveToOuter, scope } from "./scope.js";
export { StateMemory } from "./state-memory.js";
export { type Reduction, Tensor } from "./tensor.js";

import { availableParallelism } from "node:os";
import { native } from "./native.js";

/** libtorch version, threads and CUDA availability. */
export function runtimeInfo() {
  return native.runtimeInfo();
}

/** Sets libtorch's intra-op (OpenMP) thread count (default 1; see native.ts for why). */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

/** Sets OpenBLAS's thread count (default: every core); false when the BLAS is not OpenBLAS. */
export function setBlasThreads(n: number = availableParallelism()): boolean {
  return native.setBlasThreads(n);
}

export function cudaAvailable(): boolean {
  return native.runtimeInfo().cudaAvailable;
}

/** Waits for queued CUDA work (for timing); a no-op without CUDA. */
export function synchronize(): void {
  native.cudaSynchronize();
}
