// Loads the libtorch shim (build/spinn_native.node) and gives it a type. The rest of the engine
// reaches native code only through `native`.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TorchError } from "./errors.js";
import { type NativeOps, nativeOpNames } from "./native-ops.generated.js";
import type { GatherArg, GroupHandle, Handle } from "./native-types.js";

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
  /** SPINN_GENERIC_KERNELS=1: the fused ops run their device-generic (ATen) path on the CPU too. */
  genericKernels: boolean;
  /**
   * Products without gradients at small row counts run a kernel over a packed copy of the weight
   * (native/src/packed_linear.cpp): true where the CPU has AVX2 and FMA, unless
   * SPINN_PACKED_LINEAR=0 or SPINN_GENERIC_KERNELS=1.
   */
  packedLinear: boolean;
  /**
   * Where CPU tensors' memory comes from: "mimalloc" where libmimalloc.so.2 opens
   * (native/src/cpu_allocator.cpp), unless SPINN_ALLOCATOR=system; "system" is libtorch's default
   * (glibc's malloc).
   */
  cpuAllocator: "mimalloc" | "system";
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
  /** Tensors the garbage collector freed because nobody disposed them (the safety net's catch). */
  collectedByGc: number;
  /**
   * The range where CPU tensors of 128 KiB and more are placed best-fit (with mimalloc as the
   * allocator; zeros otherwise): bytes of the blocks in use, of the free extents between them,
   * and from the start of the range to the end of the highest block in use.
   */
  largeBlocks: { usedBytes: number; freeBytes: number; topBytes: number };
}

export interface DistributedAvailability {
  available: boolean;
  /** "gloo" when available. */
  backend: string | null;
  /** Why not, when not. */
  reason: string;
}

export interface GroupInfo {
  rank: number;
  worldSize: number;
  /** A collective failed: the group can no longer be used. */
  broken: boolean;
  /** The ranks found lost when a collective failed. */
  lost: number[];
}

/**
 * Hand-written entry points (the entry-point tables of native/src/{handles,core,autograd,optim,
 * state_memory,batched_linear,cells,distributed}.cpp); the generated ones are NativeOps.
 */
interface NativeCore {
  init(errorClass: typeof TorchError): void;
  dispose(h: Handle): boolean;
  disposeMany(hs: Handle[]): number;
  memory(): MemoryReport;
  releaseFreeMemory(betweenBatches?: boolean): boolean;
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
  /** One or more parts of (token, memory, gradMemory, rows, group, start, count), side by side. */
  stateGather(...parts: GatherArg[]): Handle;
  /** The writes (and the cells inside a memory) leave the next token in the token's handle. */
  stateWrite(token: Handle, memory: Handle, gradMemory: Handle, rows: Int32Array, value: Handle): void;
  treeLstmCell(gates: Handle, leftCell: Handle, rightCell: Handle): Handle;
  lstmCell(gates: Handle, prevCell: Handle): Handle;
  treeLstmCellInMemory(
    token: Handle,
    memory: Handle,
    gradMemory: Handle,
    gates: Handle,
    leftRows: Int32Array,
    rightRows: Int32Array,
    outRows: Int32Array,
  ): void;
  lstmCellInMemory(
    token: Handle,
    memory: Handle,
    gradMemory: Handle,
    gates: Handle,
    prevRows: Int32Array,
    outRows: Int32Array,
  ): void;
  dropout(x: Handle, p: number, train: boolean, rowIndex?: Handle | null, rowOffset?: number): Handle;
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
  batchedLinearGatherCollector(
    weight: Handle,
    bias: Handle | null,
    outputGrads: Handle,
    memoryA: Handle,
    indexA: Handle,
    startA: number,
    countA: number,
    memoryB: Handle | null,
    indexB: Handle | null,
    startB: number,
    countB: number,
  ): Handle;
  batchedLinearGatherStep(
    token: Handle,
    weight: Handle,
    bias: Handle | null,
    outputGrads: Handle,
    offset: number,
    indices: Handle[],
    ...parts: GatherArg[]
  ): Handle;
  gatheredLinear(weight: Handle, bias: Handle | null, ...parts: GatherArg[]): Handle;
  distAvailable(): DistributedAvailability;
  distInit(host: string, port: number, rank: number, worldSize: number, timeoutMs: number): GroupHandle;
  distInfo(group: GroupHandle): GroupInfo;
  distAllReduce(group: GroupHandle, tensors: Handle[], average: boolean): void;
  distAllReduceSum(group: GroupHandle, x: Handle): Handle;
  distBroadcast(group: GroupHandle, tensors: Handle[], root: number): void;
  distBarrier(group: GroupHandle): void;
  distDestroy(group: GroupHandle): void;
}

export type NativeBinding = NativeCore & NativeOps;

// The hand-written names at run time, for the test that the addon exports exactly what is typed
// here. A Record over NativeCore's keys makes the compiler hold the two together: a name missing
// here, or one here that NativeCore lacks, is a type error.
const nativeCoreNames: Record<keyof NativeCore, true> = {
  init: true,
  dispose: true,
  disposeMany: true,
  memory: true,
  releaseFreeMemory: true,
  fromData: true,
  toData: true,
  copyToArray: true,
  full: true,
  arange: true,
  randn: true,
  rand: true,
  manualSeed: true,
  getRngState: true,
  setRngState: true,
  shape: true,
  dtype: true,
  device: true,
  setNumThreads: true,
  setBlasThreads: true,
  runtimeInfo: true,
  cudaSynchronize: true,
  setRequiresGrad: true,
  requiresGrad: true,
  isLeaf: true,
  grad: true,
  clearGrad: true,
  backward: true,
  setGradEnabled: true,
  isGradEnabled: true,
  sgdStep: true,
  adamStep: true,
  rmspropStep: true,
  clipGradNorm: true,
  stateRead: true,
  stateGather: true,
  stateWrite: true,
  treeLstmCell: true,
  lstmCell: true,
  treeLstmCellInMemory: true,
  lstmCellInMemory: true,
  dropout: true,
  batchedLinearCollector: true,
  batchedLinearStep: true,
  batchedLinearGatherCollector: true,
  batchedLinearGatherStep: true,
  gatheredLinear: true,
  distAvailable: true,
  distInit: true,
  distInfo: true,
  distAllReduce: true,
  distAllReduceSum: true,
  distBroadcast: true,
  distBarrier: true,
  distDestroy: true,
};

/** @internal every entry point NativeBinding types: the hand-written ones, then the op table's. */
export const nativeEntryPointNames: readonly (keyof NativeBinding)[] = [
  ...(Object.keys(nativeCoreNames) as (keyof NativeCore)[]),
  ...nativeOpNames,
];

/** scripts/locate-addon.cjs: the addon lookup the install script shares. */
interface AddonLocator {
  addonCandidates(): string[];
  existingAddons(): string[];
}

// The package root holds scripts/locate-addon.cjs: walk up from src/engine (run from the
// sources) or dist/src/engine (compiled, in a checkout or an installed package).
function addonLocator(require: NodeJS.Require): AddonLocator {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const locator = path.join(dir, "scripts", "locate-addon.cjs");
    if (existsSync(locator)) return require(locator) as AddonLocator;
  }
  throw new TorchError(`scripts/locate-addon.cjs not found above ${here}`, "spinn_native.node");
}

const LIBTORCH_HINT = "it needs libtorch: apt-get install -y libtorch-dev libopenblas0-pthread";

// The first candidate (prebuilds/<platform>-<arch>/, then build/) that loads; a prebuilt addon
// linked against a libtorch this machine lacks fails to load, and a local build may follow it.
function requireAddon(require: NodeJS.Require): NativeBinding {
  const locator = addonLocator(require);
  const failures: string[] = [];
  for (const file of locator.existingAddons()) {
    try {
      return require(file) as NativeBinding;
    } catch (err) {
      failures.push(`${file}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  const [, built] = locator.addonCandidates();
  const root = path.dirname(path.dirname(built!));
  const build = existsSync(path.join(root, "src", "index.ts"))
    ? "run `npm run build:native`"
    : `run \`node ${path.join(root, "scripts", "install.mjs")}\` (npm's install step, skipped or failed)`;
  const looked = `prebuilds/${process.platform}-${process.arch}/ and build/ of ${root}`;
  if (failures.length > 0)
    throw new TorchError(
      `the native addon does not load (${failures.join("; ")}): ${build}; ${LIBTORCH_HINT}`,
      "spinn_native.node",
    );
  throw new TorchError(
    `the native engine is not built (looked in ${looked}): ${build}; ${LIBTORCH_HINT}`,
    "spinn_native.node",
  );
}

// SPINN_ALLOCATOR picks where CPU tensors' memory comes from (native/src/cpu_allocator.cpp, which
// reads it as the addon loads): "mimalloc" (the default where libmimalloc.so.2 is installed) or
// "system" (libtorch's default, glibc's malloc). A value the addon could not honour is an error,
// not a silent fallback.
function checkAllocatorChoice(binding: NativeBinding): void {
  const asked = process.env.SPINN_ALLOCATOR;
  if (asked === undefined || asked === "") return;
  if (asked !== "mimalloc" && asked !== "system")
    throw new TorchError(`SPINN_ALLOCATOR=${asked}: expected mimalloc or system`, "load");
  if (binding.runtimeInfo().cpuAllocator !== asked)
    throw new TorchError(
      "SPINN_ALLOCATOR=mimalloc: libmimalloc.so.2 could not be opened (apt-get install -y libmimalloc2.0)",
      "load",
    );
}

function load(): NativeBinding {
  const binding = requireAddon(createRequire(import.meta.url));
  binding.init(TorchError);
  checkAllocatorChoice(binding);
  // Threads. OpenBLAS runs the matrix products, where threads pay: it gets every core. libtorch's
  // OpenMP pool parallelises elementwise ops; on the small per-step tensors of tree encoders a
  // parallel region costs more than it saves, and when another process holds a core, a
  // descheduled OpenMP thread stalls every region (measured on 2 cores: with two OpenMP threads
  // a SPINN-PI training step, hidden 64, batch 64, took 248 ms instead of 87 ms on a quiet
  // machine, and under load tanh of a 64×640 tensor took ~1 ms instead of ~50 µs). So intra-op
  // threads default to 1. SPINN_THREADS and SPINN_BLAS_THREADS override both.
  binding.setNumThreads(threadsFromEnv("SPINN_THREADS") ?? 1);
  binding.setBlasThreads(threadsFromEnv("SPINN_BLAS_THREADS") ?? availableParallelism());
  return binding;
}

/** A thread count from the environment: unset or empty for the default, else a whole number ≥ 1. */
function threadsFromEnv(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === "") return undefined;
  if (!/^[1-9][0-9]*$/.test(value.trim()))
    throw new TorchError(`${name}=${value}: expected a whole number of threads, at least 1`, "load");
  return Number(value);
}

export const native: NativeBinding = load();

// ---- counting native calls (measurement only) -------------------------------------------------
//
// `spinn bench` reports how many native calls and host <-> device synchronisations a training
// step and an evaluation batch make: on a GPU every call is a kernel launch or more, and every
// readback stalls the queue, so these counts bound a step's speed there. Counting replaces the
// binding's functions by counting wrappers while it is on and puts the originals back after, so
// it costs nothing when it is off.

/** Entry points that read device data back on the host (they would wait for a GPU's queue). */
const SYNCING: ReadonlySet<string> = new Set([
  "toData",
  "copyToArray",
  "item",
  "clipGradNorm",
  "cudaSynchronize",
]);

export interface NativeCallCounts {
  /** Every call into the addon (ops, tensor creation, metadata, disposal). */
  calls: number;
  /** The calls that read device data back (toData, copyToArray, item, clipGradNorm's norm). */
  syncs: number;
  /** Calls per entry point. */
  byName: Record<string, number>;
}

let counting: { counts: NativeCallCounts; originals: Map<string, unknown> } | null = null;

/**
 * Counts every call into the addon until the returned function is called; that function puts
 * the uncounted binding back and returns the counts. One count at a time.
 */
export function countNativeCalls(): () => NativeCallCounts {
  if (counting) throw new Error("native calls are already being counted");
  const counts: NativeCallCounts = { calls: 0, syncs: 0, byName: {} };
  const originals = new Map<string, unknown>();
  const table = native as unknown as Record<string, unknown>;
  for (const name of nativeEntryPointNames) {
    const fn = table[name];
    if (typeof fn !== "function" || name === "init") continue;
    originals.set(name, fn);
    const syncs = SYNCING.has(name);
    table[name] = function counted(this: unknown, ...args: unknown[]) {
      counts.calls++;
      if (syncs) counts.syncs++;
      counts.byName[name] = (counts.byName[name] ?? 0) + 1;
      return (fn as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  counting = { counts, originals };
  return () => {
    if (counting?.counts !== counts) return counts;
    for (const [name, fn] of originals) table[name] = fn;
    counting = null;
    return counts;
  };
}
