// The tensor engine's public API.
export { isGradEnabled, noGrad } from "./autograd.js";
export { BatchedLinear } from "./batched-linear.js";
export {
  DistributedError,
  distributedAvailability,
  ProcessGroup,
  type ProcessGroupOptions,
} from "./distributed.js";
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
  lstmCell,
  multinomial,
  nllLoss,
  stack,
  treeLstmCell,
  where,
} from "./functional.js";
export { BatchNorm, Linear, LSTMCell, ParameterStore, ParamPath, type StoreOptions } from "./module.js";
export {
  countNativeCalls,
  type NativeBinding,
  type NativeCallCounts,
  native,
  type RuntimeInfo,
} from "./native.js";
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
export {
  adopt,
  currentScope,
  type EngineMemory,
  keep,
  memory,
  moveToOuter,
  releaseFreeMemory,
  type Scope,
  scope,
} from "./scope.js";
export { type GatherPart, StateMemory } from "./state-memory.js";
export { type Reduction, Tensor } from "./tensor.js";

import { availableParallelism } from "node:os";
import { type Device, deviceCode } from "./dtype.js";
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

/** A device that this libtorch or this machine does not have. */
export class DeviceError extends Error {
  override name = "DeviceError";
}

/** Throws a DeviceError naming the device unless it can be used here. */
export function checkDevice(device: Device): void {
  const index = deviceCode(device);
  if (index < 0) return;
  const info = native.runtimeInfo();
  if (!info.cudaAvailable) {
    throw new DeviceError(
      `device ${device}: CUDA is not available (libtorch ${info.torchVersion} was built without CUDA, or no GPU is visible)`,
    );
  }
  if (index >= info.cudaDevices)
    throw new DeviceError(`device ${device}: there are only ${info.cudaDevices} CUDA devices`);
}

export function cudaAvailable(): boolean {
  return native.runtimeInfo().cudaAvailable;
}

/** Waits for queued CUDA work (for timing); a no-op without CUDA. */
export function synchronize(): void {
  native.cudaSynchronize();
}
