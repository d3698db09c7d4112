// The model workers of `spinn serve --workers N`: N ModelRunners, each a worker thread with its
// own copy of the models running one batch at a time, so that N batches run at once. With more
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
  /** The runners not running a batch now. */
  private readonly idle: ModelRunner[];

  constructor(sources: ModelSource[], device: string, workers: number) {
    if (!Number.isInteger(workers) || workers < 1)
      throw new RangeError(`WorkerPool: workers must be an integer >= 1, got ${workers}`);
    // An explicit SPINN_BLAS_THREADS is the user's choice, as everywhere else in the engine.
    const blasThreads = workers > 1 && !process.env.SPINN_BLAS_THREADS ? 1 : undefined;
    this.runners = Array.from({ length: workers }, () => new ModelRunner(sources, device, blasThreads));
    this.idle = [...this.runners];
  }

  /** How many batches run at once. */
  get workers(): number {
    return this.runners.length;
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
   * Runs the batch on an idle worker, one that works if there is one (a worker that could not be
   * started again fails its batches at once); the caller keeps at most `workers` batches running.
   */
  run(job: BatchJob): Promise<BatchResult> {
    if (this.idle.length === 0)
      throw new Error(`WorkerPool.run: all ${this.workers} workers are running a batch`);
    const working = this.idle.findIndex((r) => r.failure === null);
    const [runner] = this.idle.splice(Math.max(working, 0), 1) as [ModelRunner];
    return runner.run(job).finally(() => this.idle.push(runner));
  }

  async close(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.close()));
  }
}
