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
  const before = threadTimes(process.pid)!;
  const end = performance.now() + 50;
  while (performance.now() < end) {
    // 50 ms on this thread's core
  }
  const after = threadTimes(process.pid)!;
  const ran = (after.get(process.pid)!.runNs - before.get(process.pid)!.runNs) / 1e6;
  assert.ok(ran >= 40 && ran < 1000, `the main thread ran ${ran} ms in a 50 ms busy loop`);
  assert.ok(after.size >= 2, `${after.size} threads`); // node always has helper threads
  assert.equal(threadTimes(2 ** 30), null); // no such process
});
