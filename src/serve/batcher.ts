// Dynamic batching: the items of concurrent requests for the same model and job wait in one
// queue and go to a free model worker together, up to `maxBatch` items, once the batch is full or
// its first item has waited `maxWait` ms (while every worker is busy, items gather by
// themselves). With several workers free, the items waiting are shared out among them. A model
// with a rolling batch (continuous batching, model-worker.ts) is not gathered here: its items go
// to a worker at once, as long as the workers hold fewer than `maxBatch` items each, and join the
// batch that runs there at its next step. The queue is bounded (503 with Retry-After beyond it)
// and every request has a deadline (504). A request's items may be split over several batches;
// it is answered when all have run.
import { HttpError } from "./http-error.js";
import type { BatchJob, BatchResult } from "./model-runner.js";
import type { BatchingOptions } from "./options.js";
import type { JobKind } from "./protocol.js";

/** Runs up to `workers` batches at once (WorkerPool; a stand-in in tests). */
export interface BatchRunner {
  readonly workers: number;
  run(job: BatchJob): Promise<BatchResult>;
}

export type BatchObserver = (batch: { model: string; size: number; seconds: number }) => void;

/** Where an item sits in the request body, for error messages: `body/inputs/3/premise`. */
export type ItemPath = (index: number, field: string | undefined) => string;

interface PendingRequest {
  items: unknown[];
  results: unknown[];
  remaining: number;
  done: boolean;
  path: ItemPath;
  resolve: (results: unknown[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** A run of one request's items, in order, waiting in a queue or running in a batch. */
interface Slice {
  request: PendingRequest;
  start: number;
  count: number;
  queuedAt: number;
}

interface Queue {
  model: string;
  job: JobKind;
  /** Its items go to the workers' rolling batches. */
  rolling: boolean;
  slices: Slice[];
}

/** Whether a model's jobs of a kind run in rolling batches (ModelInfo.rolling; never for parse). */
export type RollingPolicy = (model: string, job: JobKind) => boolean;

export class Batcher {
  private readonly queues = new Map<string, Queue>();
  private readonly pending = new Set<PendingRequest>();
  private queued = 0;
  /** Items in the batches running now, and how many gathered batches that is. */
  private running = 0;
  private batches = 0;
  /** Items sent to rolling batches and not answered yet. */
  private rollingItems = 0;
  /** When a worker last became free. */
  private freeSince = 0;
  private timer: NodeJS.Timeout | null = null;
  private drained: (() => void)[] = [];

  constructor(
    private readonly runner: BatchRunner,
    private readonly options: BatchingOptions & { limits: BatchJob["limits"] },
    private readonly observe: BatchObserver = () => {},
    private readonly rolls: RollingPolicy = () => false,
  ) {}

  /** Items waiting for the model (not counting the batch that runs). */
  get depth(): number {
    return this.queued;
  }

  /** The model's answers for the items, in order; rejects with an HttpError. */
  submit(model: string, job: JobKind, items: unknown[], path: ItemPath): Promise<unknown[]> {
    const { queue, timeoutMs } = this.options;
    if (this.queued + items.length > queue) {
      const message = `the queue is full (${this.queued} items waiting, at most ${queue}: --queue); retry later`;
      return Promise.reject(new HttpError(503, "queue_full", message, { "retry-after": "1" }));
    }
    return new Promise((resolve, reject) => {
      const request: PendingRequest = {
        items,
        results: new Array(items.length),
        remaining: items.length,
        done: false,
        path,
        resolve,
        reject,
        timer: setTimeout(() => {
          const message = `no answer within ${timeoutMs} ms (the limit: --timeout-ms)`;
          this.fail(request, new HttpError(504, "timeout", message));
        }, timeoutMs),
      };
      this.pending.add(request);
      const key = `${model}\u0000${job}`;
      const q = this.queues.get(key) ?? { model, job, rolling: this.rolls(model, job), slices: [] };
      this.queues.set(key, q);
      q.slices.push({ request, start: 0, count: items.length, queuedAt: performance.now() });
      this.queued += items.length;
      this.pump();
    });
  }

  /** Items in the batches the workers run now (0 when idle). */
  get runningItems(): number {
    return this.running;
  }

  /** Workers running a gathered batch now. */
  get busyWorkers(): number {
    return this.batches;
  }

  /** Resolves once every request taken so far is answered (for a graceful stop). */
  drain(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** Sends ready batches to the free workers, or sets a timer for when one will be ready. */
  private pump(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.sendRolling();
    while (this.batches < this.runner.workers) {
      const { ready, size, due } = this.nextReady(performance.now());
      if (ready) {
        // Shared out among the free workers: two half batches run side by side sooner than one
        // full batch while a worker idles.
        const free = this.runner.workers - this.batches;
        const share = Math.min(this.options.maxBatch, Math.ceil(size / free));
        for (let k = 0; k < free && ready.slices.length > 0; k++) this.dispatch(ready, share);
      } else {
        if (Number.isFinite(due))
          this.timer = setTimeout(() => this.pump(), Math.max(0, due - performance.now()));
        return;
      }
    }
  }

  /**
   * The ready queue (full, or waited long enough) with the oldest item, and its size; when none
   * is ready, when the first will be.
   */
  private nextReady(now: number): { ready: Queue | null; size: number; due: number } {
    let ready: Queue | null = null;
    let readySize = 0;
    let nextDeadline = Number.POSITIVE_INFINITY;
    for (const q of this.queues.values()) {
      const first = q.slices[0];
      if (!first || q.rolling) continue;
      const size = q.slices.reduce((n, s) => n + s.count, 0);
      // The wait counts from the item's arrival or from when a worker last became free, whichever
      // is later: the answers of the batch that just ended bring their clients' next requests
      // within a few milliseconds, and they join the items that waited instead of forming a half
      // batch of their own (without this, 64 clients of one worker settle into two alternating
      // batches of 32).
      const due = Math.max(first.queuedAt, this.freeSince) + this.options.maxWaitMs;
      if (size >= this.options.maxBatch || due <= now) {
        if (!ready || first.queuedAt < ready.slices[0]!.queuedAt) {
          ready = q;
          readySize = size;
        }
      } else nextDeadline = Math.min(nextDeadline, due);
    }
    return { ready, size: readySize, due: nextDeadline };
  }

  /** Takes up to `limit` items from the front of the queue, splitting a slice if need be. */
  private take(q: Queue, limit: number): Slice[] {
    const taken: Slice[] = [];
    let size = 0;
    while (size < limit && q.slices.length > 0) {
      const s = q.slices[0]!;
      const n = Math.min(s.count, limit - size);
      taken.push({ ...s, count: n });
      if (n === s.count) q.slices.shift();
      else {
        s.start += n;
        s.count -= n;
      }
      size += n;
      this.queued -= n;
    }
    return taken;
  }

  /**
   * Sends the items waiting for rolling batches, oldest queue first, while the workers hold fewer
   * than `maxBatch` of them each (on average: the pool gives each job to its worker with the
   * fewest items), shared out among the workers.
   */
  private sendRolling(): void {
    const waiting = [...this.queues.values()].filter((q) => q.rolling && q.slices.length > 0);
    waiting.sort((a, b) => a.slices[0]!.queuedAt - b.slices[0]!.queuedAt);
    const { workers } = this.runner;
    for (const q of waiting) {
      const queued = q.slices.reduce((n, s) => n + s.count, 0);
      const share = Math.min(this.options.maxBatch, Math.ceil(queued / workers));
      while (q.slices.length > 0) {
        const free = workers * this.options.maxBatch - this.rollingItems;
        if (free <= 0) return;
        this.dispatch(q, Math.min(free, share));
      }
    }
  }

  private dispatch(q: Queue, limit: number): void {
    const slices = this.take(q, limit);
    const items = slices.flatMap((s) => s.request.items.slice(s.start, s.start + s.count));
    if (q.rolling) this.rollingItems += items.length;
    else this.batches++;
    this.running += items.length;
    const job: BatchJob = {
      model: q.model,
      job: q.job,
      items,
      groups: slices.map((s) => s.count),
      limits: this.options.limits,
      ...(q.rolling ? { rolling: true } : {}),
    };
    this.runner
      .run(job)
      .then(
        (result) => {
          this.observe({ model: q.model, size: result.batch, seconds: result.seconds });
          this.deliver(slices, result);
        },
        (err: Error) => {
          const failure = new HttpError(500, "model_error", `the model failed on this batch: ${err.message}`);
          for (const s of slices) this.fail(s.request, failure);
        },
      )
      .finally(() => {
        if (q.rolling) this.rollingItems -= items.length;
        else {
          this.batches--;
          this.freeSince = performance.now();
        }
        this.running -= items.length;
        this.pump();
      });
  }

  private deliver(slices: Slice[], result: BatchResult): void {
    result.outcomes.forEach((outcome, k) => {
      const s = slices[k]!;
      const request = s.request;
      if (request.done) return;
      if (!outcome.ok) {
        const where = request.path(s.start + outcome.index, outcome.field);
        this.fail(request, new HttpError(400, "invalid_input", `${where}: ${outcome.detail}`));
        return;
      }
      outcome.results.forEach((r, i) => {
        request.results[s.start + i] = r;
      });
      request.remaining -= s.count;
      if (request.remaining === 0) this.settle(request, () => request.resolve(request.results));
    });
  }

  private fail(request: PendingRequest, err: Error): void {
    if (request.done) return;
    // Its items still waiting leave the queue: they would be answered to no one.
    for (const q of this.queues.values()) {
      q.slices = q.slices.filter((s) => {
        if (s.request !== request) return true;
        this.queued -= s.count;
        return false;
      });
    }
    this.settle(request, () => request.reject(err));
  }

  private settle(request: PendingRequest, answer: () => void): void {
    request.done = true;
    clearTimeout(request.timer);
    this.pending.delete(request);
    answer();
    if (this.pending.size === 0) for (const resolve of this.drained.splice(0)) resolve();
  }
}
