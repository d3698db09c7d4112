// The model workers of `spinn serve --workers N`: N ModelRunners, each a worker thread with its
// own copy of the models running one gathered batch at a time, so that N batches run at once, and
// holding the rolling batches of the models that have them (jobs for those go to the worker with
// the fewest items in flight). With more
// than one, every worker runs on one OpenBLAS thread: at the batch sizes a server forms, the
// per-step products are small (20–64 rows), and independent batches on one core each beat one
// batch spread over every core (README, "Serving"). The thread count is process-wide, so a
// pool of one keeps the engine's default (every core). A worker that dies fails its own batch
// and is started again by its runner; the others go on.
import type { BatchRunner } from "./batcher.js";
import { type BatchJob, type BatchResult, ModelRunner } from "./model-runner.js";
import type { ModelInfo, ModelSource } from "./protocol.js";

export class WorkerPool implements BatchRunner {
  private readonly runners: ModelRunner[];

  /** `rolling`: the models that can keep rolling batches (continuous batching), or none. */
  constructor(sources: ModelSource[], device: string, workers: number, rolling = true) {
    if (!Number.isInteger(workers) || workers < 1)
      throw new RangeError(`WorkerPool: workers must be an integer >= 1, got ${workers}`);
    // An explicit SPINN_BLAS_THREADS is the user's choice, as everywhere else in the engine.
    const blasThreads = workers > 1 && !process.env.SPINN_BLAS_THREADS ? 1 : undefined;
    this.runners = Array.from(
      { length: workers },
      () => new ModelRunner(sources, device, blasThreads, rolling),
    );
  }

  /** How many batches run at once. */
  get workers(): number {
    return this.runners.length;
  }

  /** Workers with a job in flight (a gathered batch, or items in a rolling batch). */
  get busy(): number {
    return this.runners.filter((r) => r.jobs > 0).length;
  }

  /** Seconds the workers have spent running models, all of them together. */
  get busySeconds(): number {
    return this.runners.reduce((n, r) => n + r.busySeconds, 0);
  }

  /** How many times a worker died and was started again, over all workers. */
  get restarts(): number {
    return this.runners.reduce((n, r) => n + r.restarts, 0);
  }

  /** Starts every worker (they load the models side by side); rejects with the first failure. */
  async start(): Promise<Omit<ModelInfo, "card">[]> {
    const loaded = await Promise.all(this.runners.map((r) => r.start()));
    return loaded[0]!;
  }

  /**
   * Runs a gathered batch on a worker not running one, one that works if there is one (a worker
   * that could not be started again fails its batches at once); the caller keeps at most
   * `workers` batches running. A rolling job goes to the working worker with the fewest items.
   */
  run(job: BatchJob): Promise<BatchResult> {
    const working = (r: ModelRunner) => (r.failure === null ? 0 : 1);
    if (job.rolling) {
      const [runner] = [...this.runners].sort((a, b) => working(a) - working(b) || a.items - b.items);
      return runner!.run(job);
    }
    const idle = this.runners.filter((r) => !r.running);
    if (idle.length === 0) throw new Error(`WorkerPool.run: all ${this.workers} workers are running a batch`);
    const [runner] = idle.sort((a, b) => working(a) - working(b));
    return runner!.run(job);
  }

  async close(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.close()));
  }
}
