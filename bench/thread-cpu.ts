// Where a process's cores go, thread by thread, from Linux's /proc/PID/task/TID/schedstat (time on
// a core and time runnable but waiting for one, in ns), for bench/serve.ts: under load the
// server's model workers, its HTTP thread and V8's helper threads share the machine's cores, and
// how much each takes says whether the HTTP side or the models limit the rate.
import { readdirSync, readFileSync } from "node:fs";

/** Nanoseconds on a core and runnable but waiting for one, per thread id. */
export type ThreadTimes = Map<number, { runNs: number; waitNs: number }>;

/** Every thread's times now, or null where /proc has no schedstat (not Linux). */
export function threadTimes(pid: number): ThreadTimes | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const times: ThreadTimes = new Map();
  for (const tid of tids) {
    try {
      const [runNs, waitNs] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8")
        .split(" ")
        .map(Number);
      if (Number.isFinite(runNs) && Number.isFinite(waitNs))
        times.set(Number(tid), { runNs: runNs!, waitNs: waitNs! });
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return times.size > 0 ? times : null;
}

export interface CoreShares {
  /** The main thread (HTTP, JSON, batching): cores, and µs of CPU per request. */
  main_thread_cores: number;
  main_thread_us_per_request: number;
  /** The model workers, busiest first: cores each, and the share of the window each spent runnable but off a core. */
  worker_cores: number[];
  worker_runnable_waiting: number[];
  /** Every other thread (V8's helpers, libuv's pool) together. */
  other_threads_cores: number;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * The shares of the cores between two readings `seconds` apart. The main thread is the one whose
 * id is the process's; the model workers are taken to be the `workers` busiest of the others
 * (each runs models, far above the helper threads' few percent of a core).
 */
export function coreShares(
  pid: number,
  before: ThreadTimes,
  after: ThreadTimes,
  seconds: number,
  workers: number,
  requests: number,
): CoreShares {
  const delta = [...after].map(([tid, t]) => {
    const b = before.get(tid) ?? { runNs: 0, waitNs: 0 };
    return { tid, run: (t.runNs - b.runNs) / 1e9 / seconds, wait: (t.waitNs - b.waitNs) / 1e9 / seconds };
  });
  const main = delta.find((d) => d.tid === pid) ?? { run: 0, wait: 0 };
  const others = delta.filter((d) => d.tid !== pid).sort((a, b) => b.run - a.run);
  const modelWorkers = others.slice(0, workers);
  return {
    main_thread_cores: round(main.run, 3),
    main_thread_us_per_request: round((main.run * seconds * 1e6) / Math.max(1, requests), 1),
    worker_cores: modelWorkers.map((w) => round(w.run, 3)),
    worker_runnable_waiting: modelWorkers.map((w) => round(w.wait, 3)),
    other_threads_cores: round(
      others.slice(workers).reduce((n, d) => n + d.run, 0),
      3,
    ),
  };
}
