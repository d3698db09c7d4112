// The server's side of one model worker: starts it, loads the models, sends one batch at a time
// and hands back its outcome. If the worker dies (a native abort, an out-of-memory kill), the
// batch it ran fails with its reason and a new worker loads the models again, so the server
// keeps serving. Several of them make a WorkerPool (worker-pool.ts).
import { Worker } from "node:worker_threads";
import type { FromWorker, GroupOutcome, ModelInfo, ModelSource, ToWorker } from "./protocol.js";

export interface BatchJob {
  model: string;
  job: Extract<ToWorker, { type: "run" }>["job"];
  items: unknown[];
  groups: number[];
  limits: Extract<ToWorker, { type: "run" }>["limits"];
}

export interface BatchResult {
  outcomes: GroupOutcome[];
  seconds: number;
}

type Loaded = Omit<ModelInfo, "card">;

export class ModelRunner {
  private worker: Worker | null = null;
  private nextId = 1;
  private current: { id: number; resolve: (r: BatchResult) => void; reject: (e: Error) => void } | null =
    null;
  private closing = false;
  /** How many times the worker died and was started again. */
  restarts = 0;
  /** Why the worker could not be started again after it died; then every batch fails at once. */
  failure: string | null = null;
  private lastError = "";

  /**
   * `blasThreads`: OpenBLAS threads, set as the worker loads the addon; the setting is
   * process-wide, so every worker of a pool is given the same. Unset, the engine's default (every
   * core, or SPINN_BLAS_THREADS).
   */
  constructor(
    private readonly sources: ModelSource[],
    private readonly device: string,
    private readonly blasThreads?: number,
  ) {}

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
      this.post({ type: "load", models: this.sources, device: this.device });
    });
  }

  /** Runs one batch (the caller sends the next only after this one settles). */
  run(job: BatchJob): Promise<BatchResult> {
    if (this.current) throw new Error("ModelRunner.run: a batch is already running");
    // Rather than post to a worker that is gone and wait for an answer that never comes.
    if (this.failure !== null)
      return Promise.reject(new Error(`the model worker could not be started again: ${this.failure}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.current = { id, resolve, reject };
      this.post({ type: "run", id, ...job });
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
    if (m.type !== "done" && m.type !== "failed") return;
    const current = this.current;
    if (!current || current.id !== m.id) return;
    this.current = null;
    if (m.type === "done") current.resolve({ outcomes: m.outcomes, seconds: m.seconds });
    else current.reject(new Error(m.message));
  }

  private onExit(worker: Worker, code: number): void {
    if (this.closing || worker !== this.worker) return;
    const current = this.current;
    this.current = null;
    const why = this.lastError === "" ? `exit code ${code}` : this.lastError;
    this.lastError = "";
    current?.reject(new Error(`the model worker stopped while running this batch (${why})`));
    this.restarts++;
    this.start().catch((err: Error) => {
      this.failure = err.message;
      const message = `the model worker could not be started again: ${err.message}`;
      process.stderr.write(`spinn serve: ${message}\n`);
      // A batch sent while it was starting went to a worker that is gone.
      const waiting = this.current;
      this.current = null;
      waiting?.reject(new Error(message));
    });
  }
}
