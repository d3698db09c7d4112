// Collectives over processes: a typed process group on the addon's c10d binding
// (native/src/distributed.cpp: a TCPStore rendezvous, ProcessGroupGloo on CPU tensors).
import { TorchError } from "./errors.js";
import { type DistributedAvailability, native } from "./native.js";
import type { GroupHandle } from "./native-types.js";
import { type Tensor, wrap } from "./tensor.js";

/**
 * A collective or a rendezvous failed: a peer was lost, the rendezvous timed out, the store's
 * port was in use. The message is one line naming this rank and, when known, the lost one.
 */
export class DistributedError extends Error {
  override name = "DistributedError";

  constructor(
    message: string,
    /** The ranks found lost (their heartbeat stopped, or rank 0 when its store is gone). */
    readonly lostRanks: readonly number[] = [],
  ) {
    super(message);
  }
}

/** Whether this addon was built with Gloo, and why not when it was not. */
export function distributedAvailability(): DistributedAvailability {
  return native.distAvailable();
}

export interface ProcessGroupOptions {
  /** The rendezvous store's host (rank 0 serves it; the others connect there). */
  host: string;
  port: number;
  rank: number;
  worldSize: number;
  /** The bound on the rendezvous and on every collective, in milliseconds. */
  timeoutMs: number;
}

/** One rank's membership of a group of processes that run the same collectives in the same order. */
export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  #handle: GroupHandle | null;

  private constructor(handle: GroupHandle, rank: number, worldSize: number) {
    this.#handle = handle;
    this.rank = rank;
    this.worldSize = worldSize;
  }

  /** Joins the group: returns once all `worldSize` ranks arrived, or throws a DistributedError. */
  static join(options: ProcessGroupOptions): ProcessGroup {
    const availability = distributedAvailability();
    if (!availability.available) throw new DistributedError(availability.reason);
    const { host, port, rank, worldSize, timeoutMs } = options;
    const handle = distributedCall(null, () => native.distInit(host, port, rank, worldSize, timeoutMs));
    return new ProcessGroup(handle, rank, worldSize);
  }

  /** Sums (or averages) each tensor over the ranks, in place; one collective for the whole list. */
  allReduce(tensors: readonly Tensor[], options: { average?: boolean } = {}): void {
    const h = this.handle;
    distributedCall(h, () =>
      native.distAllReduce(
        h,
        tensors.map((t) => t.handle),
        options.average ?? false,
      ),
    );
  }

  /** The sum of `x` over the ranks as a new tensor that autograd differentiates (its gradient is summed over the ranks too). */
  allReduceSum(x: Tensor): Tensor {
    const h = this.handle;
    return wrap(distributedCall(h, () => native.distAllReduceSum(h, x.handle)));
  }

  /** Every rank's tensors become `root`'s, in place. */
  broadcast(tensors: readonly Tensor[], root = 0): void {
    const h = this.handle;
    distributedCall(h, () =>
      native.distBroadcast(
        h,
        tensors.map((t) => t.handle),
        root,
      ),
    );
  }

  /** Returns once every rank called it. */
  barrier(): void {
    const h = this.handle;
    distributedCall(h, () => native.distBarrier(h));
  }

  /** Leaves the group (stops this rank's heartbeat). */
  destroy(): void {
    if (this.#handle) native.distDestroy(this.#handle);
    this.#handle = null;
  }

  private get handle(): GroupHandle {
    if (!this.#handle) throw new Error("the process group was destroyed");
    return this.#handle;
  }
}

// The native layer's failures as DistributedErrors: its message already names this rank and
// the lost one; the lost ranks come with it for programs.
function distributedCall<T>(group: GroupHandle | null, call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (!(err instanceof TorchError)) throw err;
    const lost = group ? native.distInfo(group).lost : [];
    throw new DistributedError(err.torchMessage, lost);
  }
}
