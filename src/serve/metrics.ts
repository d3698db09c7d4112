// GET /metrics: the server's counters in the Prometheus text format (prom-client), one registry
// per server so that several servers in one process (the tests) keep their own counts.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ErrorKind } from "./http-error.js";

export interface MetricSources {
  /** Items waiting for the model. */
  queueDepth(): number;
  /** Items in the batches the model workers run now. */
  runningItems(): number;
  /** Model worker threads. */
  workers(): number;
  /** Model workers running a batch now (a gathered one, or a rolling one with items). */
  busyWorkers(): number;
  /** Seconds the model workers have spent running models, all together (as of their last answers). */
  busySeconds(): number;
  /** How many times a model worker died and was started again. */
  workerRestarts(): number;
  /** Live native tensors and their bytes, process-wide. */
  nativeMemory(): { tensors: number; bytes: number };
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly latency: Histogram<"method" | "route">;
  private readonly batchSizes: Histogram<"model">;
  private readonly batchSeconds: Histogram<"model">;
  private readonly errors: Counter<"kind">;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "spinn_http_requests_total",
      help: "HTTP requests answered, by route and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.latency = new Histogram({
      name: "spinn_http_request_duration_seconds",
      help: "Time from a request's arrival to its answer",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.batchSizes = new Histogram({
      name: "spinn_batch_size",
      help: "Items in each batch the model ran (a rolling batch: per job, its mean over the job's steps)",
      labelNames: ["model"],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: "spinn_batch_duration_seconds",
      help: "Time the model took for each batch (a rolling batch: per job, from joining to answered)",
      labelNames: ["model"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.errors = new Counter({
      name: "spinn_errors_total",
      help: "Requests answered with an error, by what went wrong",
      labelNames: ["kind"],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge("spinn_queue_depth", "Items waiting for the model", () => sources.queueDepth());
    gauge("spinn_batch_items_running", "Items in the batches the model workers run now", () =>
      sources.runningItems(),
    );
    gauge("spinn_model_workers", "Model worker threads (--workers)", () => sources.workers());
    gauge("spinn_model_workers_busy", "Model workers running a batch now", () => sources.busyWorkers());
    gauge(
      "spinn_model_busy_seconds",
      "Seconds the model workers have spent running models, all together",
      () => sources.busySeconds(),
    );
    gauge("spinn_model_worker_restarts", "Model workers that died and were started again", () =>
      sources.workerRestarts(),
    );
    gauge("spinn_native_live_tensors", "Live native (libtorch) tensors in the process", () => {
      return sources.nativeMemory().tensors;
    });
    gauge(
      "spinn_native_live_bytes",
      "Bytes held by the live native tensors",
      () => sources.nativeMemory().bytes,
    );
  }

  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.latency.observe({ method, route }, seconds);
  }

  batch(model: string, size: number, seconds: number): void {
    this.batchSizes.observe({ model }, size);
    this.batchSeconds.observe({ model }, seconds);
  }

  error(kind: ErrorKind): void {
    this.errors.inc({ kind });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
