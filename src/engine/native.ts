// Loads the libtorch shim (build/spinn_native.node) and gives it a type. The rest of the engine
// reaches native code only through `native`.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TorchError } from "./errors.js";
import type { NativeOps } from "./native-ops.generated.js";
import type { Handle } from "./native-types.js";

type HostArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface RuntimeInfo {
  torchVersion: string;
  /** libtorch's intra-op (OpenMP) threads. */
  threads: number;
  /** OpenBLAS threads (matrix products), or null with another BLAS. */
  blasThreads: number | null;
  cudaAvailable: boolean;
  cudaDevices: number;
  parallelInfo: string;
}

export interface MemoryReport {
  /** Tensors held by live handles (parameters, optimizer state and anything not yet disposed). */
  tensors: number;
  /** Bytes of the distinct storages those tensors hold (views share storage). */
  bytes: number;
  cpuBytes: number;
  cudaBytes: number;
  /**
   * Tensor handles the garbage collector has not finalized yet, disposed or not. Each holds a
   * little native memory until then; a count that keeps growing pins the native heap.
   */
  handles: number;
}

/** Hand-written entry points (native/src/{handles,core,autograd,optim,state_memory}.cpp). */
interface NativeCore {
  init(errorClass: typeof TorchError): void;
  dispose(h: Handle): boolean;
  memory(): MemoryReport;
  fromData(
    data: HostArray | ArrayLike<number | boolean>,
    shape: number[],
    dtype: number,
    device: number,
  ): Handle;
  toData(h: Handle): Float32Array | Float64Array | BigInt64Array | Uint8Array;
  copyToArray(h: Handle, out: HostArray): void;
  full(shape: number[], value: number, dtype: number, device: number): Handle;
  arange(start: number, end: number, step: number, dtype: number, device: number): Handle;
  randn(shape: number[], dtype: number, device: number): Handle;
  rand(shape: number[], dtype: number, device: number): Handle;
  manualSeed(seed: number): void;
  getRngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
  shape(h: Handle): number[];
  dtype(h: Handle): number;
  device(h: Handle): number;
  setNumThreads(n: number): void;
  setBlasThreads(n: number): boolean;
  runtimeInfo(): RuntimeInfo;
  cudaSynchronize(): void;
  setRequiresGrad(h: Handle, on: boolean): void;
  requiresGrad(h: Handle): boolean;
  isLeaf(h: Handle): boolean;
  grad(h: Handle): Handle | null;
  clearGrad(h: Handle): void;
  backward(h: Handle, grad: Handle | null, retainGraph: boolean): void;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  sgdStep(
    params: Handle[],
    bufs: Handle[],
    step: number,
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: boolean,
  ): void;
  adamStep(
    params: Handle[],
    expAvg: Handle[],
    expAvgSq: Handle[],
    step: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
  ): void;
  rmspropStep(
    params: Handle[],
    squareAvg: Handle[],
    bufs: Handle[],
    lr: number,
    alpha: number,
    eps: number,
    weightDecay: number,
    momentum: number,
  ): void;
  clipGradNorm(params: Handle[], maxNorm: number): number;
  stateRead(token: Handle, memory: Handle, gradMemory: Handle, rows: Int32Array): Handle;
  stateWrite(token: Handle, memory: Handle, gradMemory: Handle, rows: Int32Array, value: Handle): Handle;
  treeLstmCell(gates: Handle, leftCell: Handle, rightCell: Handle): Handle;
  lstmCell(gates: Handle, prevCell: Handle): Handle;
  batchedLinearCollector(weight: Handle, bias: Handle | null, inputs: Handle, outputGrads: Handle): Handle;
  batchedLinearStep(
    token: Handle,
    x: Handle,
    weight: Handle,
    bias: Handle | null,
    inputs: Handle,
    outputGrads: Handle,
    offset: number,
  ): Handle;
}

export type NativeBinding = NativeCore & NativeOps;

function locateAddon(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // src/engine (ts-run) or dist/src/engine (compiled): walk up to the package root.
  for (let dir = here; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, "build", "spinn_native.node");
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    "the native engine is not built (build/spinn_native.node is missing): run `npm run build:native` " +
      "(it needs libtorch: apt-get install -y libtorch-dev libopenblas0-pthread)",
  );
}

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  const binding = require(locateAddon()) as NativeBinding;
  binding.init(TorchError);
  // Threads. OpenBLAS runs the matrix products, where threads pay: it gets every core. libtorch's
  // OpenMP pool parallelises elementwise ops; on the small per-step tensors of tree encoders a
  // parallel region costs more than it saves, and when another process holds a core, a
  // descheduled OpenMP thread stalls every region (measured on 2 cores: with two OpenMP threads
  // a SPINN-PI training step, hidden 64, batch 64, took 248 ms instead of 87 ms on a quiet
  // machine, and under load tanh of a 64×640 tensor took ~1 ms instead of ~50 µs). So intra-op
  // threads default to 1. SPINN_THREADS and SPINN_BLAS_THREADS override both.
  const intra = Number(process.env.SPINN_THREADS ?? 0);
  const blas = Number(process.env.SPINN_BLAS_THREADS ?? 0);
  binding.setNumThreads(intra > 0 ? intra : 1);
  binding.setBlasThreads(blas > 0 ? blas : availableParallelism());
  return binding;
}

export const native: NativeBinding = load();
