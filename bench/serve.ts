// `npm run bench:serve`: `spinn serve` under load on the loopback. Starts the server as its own
// process with the shipped models, then for each concurrency (1, 8, 64) runs that many clients,
// each sending one item (BENCH_ITEMS) per request back to back for a bounded time, and reports
// p50/p99 latency and items/s beside the offline rate of the same model on the same items in the same
// run (the library's classify/predictListOps in batches of 256 sorted by length, measured before
// and after the load and averaged, and in the server's largest batches in arrival order, in this
// process while the server idles), the mean
// batch the server formed (a rolling batch's mean), the share of the model workers' time spent
// running models, where the server's cores went (its main thread, each model worker, the other
// threads; from /proc, Linux only), and live native tensors before and after.
// Prints one JSON object. Goal (issue 13): at 64 clients ≥ 70% of the offline rate, p99 < 250 ms
// for single pairs.
//   BENCH_SECONDS (8 per measurement), BENCH_CONCURRENCY ("1,8,64"), BENCH_MODELS ("snli-spinn,listops-pi"),
//   BENCH_MAX_BATCH, BENCH_MAX_WAIT_MS, BENCH_WORKERS (the server's defaults when unset),
//   BENCH_ITEMS (items per request, 1), BENCH_ROLLING=0 (serve with --no-rolling: gathered batches
//   for every model), BENCH_CLIENT ("wrk" when installed, else "node": node:http clients in this
//   process; wrk takes far less of the CPU the server runs on, bench/wrk-load.ts)
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { Agent, request } from "node:http";
import { availableParallelism } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { runtimeInfo } from "../src/engine/index.js";
import { DEFAULT_BATCHING, defaultWorkers } from "../src/serve/options.js";
import { type Item, itemsOf, offlineRate } from "./shipped-model-rate.js";
import { coreShares, threadTimes } from "./thread-cpu.js";
import { wrkAvailable, wrkLoad } from "./wrk-load.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "../src/cli/main.js");
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const levels = (process.env.BENCH_CONCURRENCY ?? "1,8,64").split(",").map(Number);
const modelNames = (process.env.BENCH_MODELS ?? "snli-spinn,listops-pi").split(",");
const perRequest = Number(process.env.BENCH_ITEMS ?? 1);
const maxBatch = Number(process.env.BENCH_MAX_BATCH ?? DEFAULT_BATCHING.maxBatch);
const workers = Number(process.env.BENCH_WORKERS ?? defaultWorkers());
const rolling = process.env.BENCH_ROLLING !== "0";
const hasWrk = wrkAvailable();
const client = process.env.BENCH_CLIENT ?? (hasWrk ? "wrk" : "node");
if (client !== "wrk" && client !== "node") throw new Error(`BENCH_CLIENT: "${client}" is not wrk or node`);
if (client === "wrk" && !hasWrk)
  throw new Error("BENCH_CLIENT=wrk: wrk is not installed (apt-get install wrk)");

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const args = [cli, "serve", "--port", "0", "--json", "--workers", String(workers)];
  args.push(...modelNames.flatMap((m) => ["--model", m]));
  if (process.env.BENCH_MAX_BATCH) args.push("--max-batch", process.env.BENCH_MAX_BATCH);
  if (process.env.BENCH_MAX_WAIT_MS) args.push("--max-wait-ms", process.env.BENCH_MAX_WAIT_MS);
  if (!rolling) args.push("--no-rolling");
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

function call(agent: Agent, port: number, method: string, route: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path: route,
        agent,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => {
          text += d;
        });
        res.on("end", () =>
          res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function metric(port: number, sample: string): Promise<number> {
  const text = await call(new Agent(), port, "GET", "/metrics");
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/**
 * Waits until the server holds no items: wrk stops with requests still in flight, which the
 * server then answers to closed sockets (their work is counted in no level).
 */
async function drained(port: number): Promise<void> {
  const until = performance.now() + 60_000;
  while (
    (await metric(port, "spinn_queue_depth")) + (await metric(port, "spinn_batch_items_running")) > 0 &&
    performance.now() < until
  )
    await new Promise((resolve) => setTimeout(resolve, 50));
}

/** The model workers release their memory after this long idle (model-worker.ts), and a margin. */
const IDLE_RELEASE_WAIT_MS = 1500;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** The request bodies: BENCH_ITEMS consecutive items each, starting at every item in turn. */
function bodiesOf(model: string, items: Item[]): string[] {
  return items.map((_, k) =>
    JSON.stringify({
      model,
      inputs: Array.from({ length: perRequest }, (_, i) => items[(k + i) % items.length]),
    }),
  );
}

/** `clients` node:http loops, each sending its next request once answered, for `seconds`. */
async function nodeLoad(port: number, bodies: string[], clients: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let next = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const body = bodies[next++ % bodies.length]!;
      const t0 = performance.now();
      await call(agent, port, "POST", "/v1/predict", body);
      latencies.push(performance.now() - t0);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, loop));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds: elapsed,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

/** `clients` closed-loop clients for `seconds`: latencies, items/s, the server's batches. */
async function load(port: number, pid: number, model: string, items: Item[], clients: number) {
  const batchesBefore = await metric(port, `spinn_batch_size_count{model="${model}"}`);
  const itemsBefore = await metric(port, `spinn_batch_size_sum{model="${model}"}`);
  const busyBefore = await metric(port, "spinn_model_busy_seconds");
  const bodies = bodiesOf(model, items);
  const threadsBefore = threadTimes(pid);
  const started = performance.now();
  const run =
    client === "wrk"
      ? wrkLoad(port, "/v1/predict", bodies, clients, seconds)
      : await nodeLoad(port, bodies, clients);
  const window = (performance.now() - started) / 1000;
  const threadsAfter = threadTimes(pid);
  const elapsed = run.seconds;
  const batches = (await metric(port, `spinn_batch_size_count{model="${model}"}`)) - batchesBefore;
  const batched = (await metric(port, `spinn_batch_size_sum{model="${model}"}`)) - itemsBefore;
  const busy = (await metric(port, "spinn_model_busy_seconds")) - busyBefore;
  await drained(port);
  return {
    clients,
    requests: run.requests,
    items_per_s: round((run.requests * perRequest) / elapsed),
    p50_ms: round(run.p50Ms),
    p99_ms: round(run.p99Ms),
    mean_batch: round(batched / Math.max(1, batches)),
    // The share of the model workers' time spent running models: below 1, time went elsewhere
    // (HTTP, JSON, the clients, other processes on the machine) or a worker waited for items.
    model_busy_share: round(busy / (elapsed * workers), 3),
    // Where the server's cores went (Linux; null elsewhere).
    cpu:
      threadsBefore && threadsAfter
        ? coreShares(pid, threadsBefore, threadsAfter, window, workers, run.requests)
        : null,
  };
}

const server = await startServer();
try {
  // The models the server runs in rolling batches (none under --no-rolling).
  const { models: served } = JSON.parse(await call(new Agent(), server.port, "GET", "/v1/models")) as {
    models: { name: string; rolling: boolean }[];
  };
  const rollingModels = new Set(served.filter((m) => m.rolling).map((m) => m.name));
  const liveBefore = await metric(server.port, "spinn_native_live_tensors");
  const results = [];
  for (const model of modelNames) {
    const items = itemsOf(model);
    // Measured before and after the load (the mean is what the shares divide by): this machine's
    // rate drifts by tens of percent within minutes, and the mean follows the drift over the run.
    const offlineBefore = offlineRate(model, items, { batchSize: 256, seconds });
    // The batches a server at full load forms: how much of the gap is batch width and length mix.
    const offlineArrival = offlineRate(model, items, { batchSize: maxBatch, perCall: maxBatch, seconds });
    const levelsOut = [];
    for (const clients of levels) {
      const r = await load(server.port, server.child.pid!, model, items, clients);
      levelsOut.push({
        ...r,
        share_of_offline_arrival_batches: round(r.items_per_s / offlineArrival, 3),
      });
    }
    const offlineAfter = offlineRate(model, items, { batchSize: 256, seconds });
    const offline = (offlineBefore + offlineAfter) / 2;
    for (const level of levelsOut)
      Object.assign(level, { share_of_offline: round(level.items_per_s / offline, 3) });
    results.push({
      model,
      rolling: rollingModels.has(model),
      offline_items_per_s: round(offline),
      offline_items_per_s_before_after: [round(offlineBefore), round(offlineAfter)],
      offline_batch: 256,
      offline_items_per_s_arrival_batches: round(offlineArrival),
      levels: levelsOut,
    });
  }
  // Read in the state they were read in before the load: no items, the workers' idle memory released.
  await drained(server.port);
  await new Promise((resolve) => setTimeout(resolve, IDLE_RELEASE_WAIT_MS));
  const liveAfter = await metric(server.port, "spinn_native_live_tensors");
  const report = {
    benchmark: "serve",
    seconds_per_level: seconds,
    items_per_request: perRequest,
    client: client === "wrk" ? "wrk (one thread)" : "node:http, in the benchmark's process",
    cpus: availableParallelism(),
    server: {
      workers,
      max_batch: maxBatch,
      max_wait_ms: Number(process.env.BENCH_MAX_WAIT_MS ?? DEFAULT_BATCHING.maxWaitMs),
      rolling,
      // Read in this process, whose environment the server inherits (SPINN_PACKED_LINEAR).
      packed_linear: runtimeInfo().packedLinear,
    },
    models: results,
    live_tensors: { before: liveBefore, after: liveAfter },
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  server.child.kill("SIGTERM");
  await once(server.child, "exit");
}
