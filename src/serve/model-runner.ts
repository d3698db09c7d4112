// The server's side of one model worker: starts it, loads the models, sends it batches and hands
// back their outcomes: one gathered batch at a time, and any number of jobs for its rolling
// batches (model-worker.ts). If the worker dies (a native abort, an out-of-memory kill), the
// batch it ran fails with its reason and a new worker loads the models again, so the server
// keeps serving. Several of them make a WorkerPool (worker-pool.ts).
import { Worker } from "node:worker_threads";
import type { FromWorker, GroupOutcome, ModelInfo, ModelSource, ToWorker } from "./protocol.js";

export interface BatchJob {
  model: string;
  job: Extract<ToWorker, { type: "run" }>["job"];
  /** Into the model's rolling batch (ModelInfo.rolling) instead of a batch of its own. */
  rolling?: boolean;
  items: unknown[];
  groups: number[];
  limits: Extract<ToWorker, { type: "run" }>["limits"];
}

export interface BatchResult {
  outcomes: GroupOutcome[];
  seconds: number;
  /** Items in the batch that ran them (for a rolling job, the batch's mean over its steps). */
  batch: number;
}

type Loaded = Omit<ModelInfo, "card">;

export class ModelRunner {
  private worker: Worker | null = null;
  private nextId = 1;
  /** The jobs sent and not answered yet, by id. */
  private readonly inFlight = new Map<
    number,
    { items: number; rolling: boolean; resolve: (r: BatchResult) => void; reject: (e: Error) => void }
  >();
  private closing = false;
  /** How many times the worker died and was started again. */
  restarts = 0;
  /** Seconds the worker has spent running models (as of its last answer), over its restarts. */
  busySeconds = 0;
  #busyBefore = 0;
  /** Why the worker could not be started again after it died; then every batch fails at once. */
  failure: string | null = null;
  private lastError = "";

  /**
   * `blasThreads`: OpenBLAS threads, set as the worker loads the addon; the setting is
   * process-wide, so every worker of a pool is given the same. Unset, the engine's default (every
   * core, or SPINN_BLAS_THREADS). `rolling`: the models that can keep a rolling batch
   * (continuous batching), or none.
   */
  constructor(
    private readonly sources: ModelSource[],
    private readonly device: string,
    private readonly blasThreads?: number,
    private readonly rolling = true,
  ) {}

  /** Whether a gathered batch is running (rolling jobs may be, besides). */
  get running(): boolean {
    for (const job of this.inFlight.values()) if (!job.rolling) return true;
    return false;
  }

  /** Jobs sent and not answered yet. */
  get jobs(): number {
    return this.inFlight.size;
  }

  /** Items in the jobs sent and not answered yet. */
  get items(): number {
    let n = 0;
    for (const job of this.inFlight.values()) n += job.items;
    return n;
  }

  /** Starts the worker and loads the models; rejects with the loader's one-line message. */
  start(): Promise<Loaded[]> {
    // Through the worker's environment, read as it loads the addon (src/engine/native.ts): set
    // after loading instead, the engine's default (every core) would hold in between, for every
    // worker's batches, whenever a worker is started again.
    const env =
      this.blasThreads === undefined
        ? process.env
        : { ...process.env, SPINN_BLAS_THREADS: String(this.blasThreads) };
    const worker = new Worker(new URL("./model-worker.js", import.meta.url), { env });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      const onLoad = (m: FromWorker) => {
        if (m.type === "loaded") {
          worker.off("message", onLoad);
          worker.on("message", (msg: FromWorker) => this.onMessage(msg));
          worker.on("exit", (code) => this.onExit(worker, code));
          resolve(m.models);
        } else if (m.type === "load-failed") {
          void worker.terminate();
          reject(new Error(m.message));
        }
      };
      worker.on("message", onLoad);
      // Always listened to: an 'error' event nobody listens to would end the server.
      worker.on("error", (err: Error) => {
        this.lastError = err.message;
        reject(err);
      });
      this.post({ type: "load", models: this.sources, device: this.device, rolling: this.rolling });
    });
  }

  /**
   * Runs a job: a gathered batch (the caller sends the next only after this one settles), or,
   * with `job.rolling`, items for a rolling batch, any number at once.
   */
  run(job: BatchJob): Promise<BatchResult> {
    const rolling = job.rolling ?? false;
    if (!rolling && this.running) throw new Error("ModelRunner.run: a batch is already running");
    // Rather than post to a worker that is gone and wait for an answer that never comes.
    if (this.failure !== null)
      return Promise.reject(new Error(`the model worker could not be started again: ${this.failure}`));
    const id = this.nextId++;
    return new Promise<BatchResult>((resolve, reject) => {
      this.inFlight.set(id, { items: job.items.length, rolling, resolve, reject });
      this.post({ type: "run", id, ...job, rolling });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker?.terminate();
    this.worker = null;
  }

  private post(message: ToWorker): void {
    this.worker!.postMessage(message);
  }

  private onMessage(m: FromWorker): void {
    if (m.type !== "done" && m.type !== "done-many" && m.type !== "failed") return;
    this.busySeconds = this.#busyBefore + m.busy;
    for (const done of m.type === "done-many" ? m.jobs : [m]) {
      const job = this.inFlight.get(done.id);
      if (!job) continue;
      this.inFlight.delete(done.id);
      if ("message" in done) job.reject(new Error(done.message));
      else job.resolve({ outcomes: done.outcomes, seconds: done.seconds, batch: done.batch });
    }
  }

  private onExit(worker: Worker, code: number): void {
    if (this.closing || worker !== this.worker) return;
    this.#busyBefore = this.busySeconds;
    const lost = [...this.inFlight.values()];
    this.inFlight.clear();
    const why = this.lastError === "" ? `exit code ${code}` : this.lastError;
    this.lastError = "";
    for (const job of lost)
      job.reject(new Error(`the model worker stopped while running this batch (${why})`));
    this.restarts++;
    this.start().catch((err: Error) => {
      this.failure = err.message;
      const message = `the model worker could not be started again: ${err.message}`;
      process.stderr.write(`spinn serve: ${message}\n`);
      // Jobs sent while it was starting went to a worker that is gone.
      const waiting = [...this.inFlight.values()];
      this.inFlight.clear();
      for (const job of waiting) job.reject(new Error(message));
    });
  }
}
