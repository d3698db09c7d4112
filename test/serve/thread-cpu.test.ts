// bench/serve.ts's split of the server's cores among its threads (bench/thread-cpu.ts): the
// arithmetic on two readings, and the readings themselves from this process's /proc.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { coreShares, type ThreadTimes, threadTimes } from "../../bench/thread-cpu.js";

test("the main thread is the process's id, the workers the busiest others, the rest summed", () => {
  const before: ThreadTimes = new Map([
    [100, { runNs: 1e9, waitNs: 0 }],
    [101, { runNs: 0, waitNs: 0 }],
    [102, { runNs: 5e8, waitNs: 1e8 }],
    [103, { runNs: 0, waitNs: 0 }],
  ]);
  // Over 2 s: main 0.5 s, helper 101 0.1 s, workers 102 and 104 (one that started) 1.5 s and 1.6 s.
  const after: ThreadTimes = new Map([
    [100, { runNs: 1.5e9, waitNs: 2e8 }],
    [101, { runNs: 1e8, waitNs: 0 }],
    [102, { runNs: 2e9, waitNs: 5e8 }],
    [103, { runNs: 2e7, waitNs: 0 }],
    [104, { runNs: 1.6e9, waitNs: 2e8 }],
  ]);
  assert.deepEqual(coreShares(100, before, after, 2, 2, 1000), {
    main_thread_cores: 0.25,
    main_thread_us_per_request: 500,
    worker_cores: [0.8, 0.75],
    worker_runnable_waiting: [0.1, 0.2],
    other_threads_cores: 0.06,
  });
});

test("reads every thread of a running process, the main thread's time growing as it works", (t) => {
  if (!existsSync(`/proc/${process.pid}/task/${process.pid}/schedstat`)) {
    t.skip("no /proc/PID/task/TID/schedstat here (not Linux)");
    return;
  }
  // Spin until the process has used 50 ms of CPU (CPU time, not wall time: a busy machine may
  // take the core away mid-loop). The loop allocates nothing, so the main thread does nearly all
  // of it; its schedstat time can be no more than the process's (both clocks are exact to well
  // under a millisecond on Linux; 2 ms of slack).
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const before = threadTimes(process.pid)!;
  const start = cpuMs();
  while (cpuMs() - start < 50) {
    // on this thread's core
  }
  const used = cpuMs() - start;
  const after = threadTimes(process.pid)!;
  const ran = (after.get(process.pid)!.runNs - before.get(process.pid)!.runNs) / 1e6;
  assert.ok(ran >= used / 2 && ran <= used + 2, `the main thread ran ${ran} ms of the process's ${used}`);
  assert.ok(after.size >= 2, `${after.size} threads`); // node always has helper threads
  assert.equal(threadTimes(2 ** 30), null); // no such process
});
