// Dynamic batching (src/serve/batcher.ts) against a stand-in model runner whose batches finish
// when the test says: which requests share a batch, in what order answers come back, the bounded
// queue (503), the deadline (504), a bad item failing only its request (400), a failing batch
// (500) and draining; then with a stand-in pool of two workers: batches that run side by side and
// finish in any order, the items waiting shared out among free workers, and the same limits.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Batcher, type ItemPath } from "../../src/serve/batcher.js";
import { HttpError } from "../../src/serve/http-error.js";
import type { BatchJob, BatchResult } from "../../src/serve/model-runner.js";
import type { GroupOutcome } from "../../src/serve/protocol.js";

/**
 * Answers item x with "x!", fails a slice at its first item "bad"; holds each batch until
 * released. Runs up to `workers` batches at once, as a WorkerPool does.
 */
class FakeRunner {
  jobs: BatchJob[] = [];
  private releases: (() => void)[] = [];
  failNext: string | null = null;
  /** The most batches that ran at once. */
  mostAtOnce = 0;
  /** Gathered (not rolling) batches answered. */
  gatheredDone = 0;

  constructor(readonly workers = 1) {}

  run(job: BatchJob): Promise<BatchResult> {
    this.jobs.push(job);
    const gathered = this.jobs.filter((j) => !j.rolling).length - this.gatheredDone;
    if (!job.rolling && gathered > this.workers) throw new Error("FakeRunner: more batches than workers");
    return new Promise((resolve, reject) => {
      this.releases.push(() => {
        if (!job.rolling) this.gatheredDone++;
        if (this.failNext !== null) {
          reject(new Error(this.failNext));
          this.failNext = null;
          return;
        }
        let at = 0;
        const outcomes = job.groups.map((n): GroupOutcome => {
          const items = job.items.slice(at, at + n) as string[];
          at += n;
          const bad = items.indexOf("bad");
          if (bad >= 0) return { ok: false, index: bad, field: "expression", detail: "not an expression" };
          return { ok: true, results: items.map((x) => `${x}!`) };
        });
        resolve({ outcomes, seconds: 0.001, batch: job.items.length });
      });
      this.mostAtOnce = Math.max(this.mostAtOnce, this.releases.length);
    });
  }

  /** Batches running now. */
  get running(): number {
    return this.releases.length;
  }

  /** Lets the k-th oldest running batch finish (the oldest by default), then waits for the batcher to react. */
  async release(k = 0): Promise<void> {
    this.releases.splice(k, 1)[0]!();
    await new Promise((r) => setTimeout(r, 1));
  }
}

const limits = { maxTokens: 100, maxLineBytes: 1000 };
const path: ItemPath = (i, field) => `body/inputs/${i}${field ? `/${field}` : ""}`;
const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

function setup(
  overrides: Partial<{ maxBatch: number; maxWaitMs: number; queue: number; timeoutMs: number }> = {},
  workers = 1,
  rolls: (model: string) => boolean = () => false,
) {
  const runner = new FakeRunner(workers);
  const sizes: number[] = [];
  const options = { maxBatch: 4, maxWaitMs: 0, queue: 100, timeoutMs: 10_000, limits, ...overrides };
  const batcher = new Batcher(runner, options, (b) => sizes.push(b.size), rolls);
  return { runner, batcher, sizes };
}

async function rejection(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HttpError, String(err));
    return err;
  }
  assert.fail("expected a rejection");
}

describe("batching", () => {
  test("requests that arrive while a batch runs share the next batch; each gets its own answers", async () => {
    const { runner, batcher, sizes } = setup();
    const a = batcher.submit("m", "listops", ["a"], path);
    await tick();
    assert.equal(runner.jobs.length, 1); // dispatched at once: maxWaitMs 0, the worker idle
    const b = batcher.submit("m", "listops", ["b1", "b2"], path);
    const c = batcher.submit("m", "listops", ["c"], path);
    assert.equal(batcher.depth, 3);
    await runner.release();
    assert.deepEqual(await a, ["a!"]);
    assert.equal(runner.jobs.length, 2);
    assert.deepEqual(runner.jobs[1]!.items, ["b1", "b2", "c"]);
    assert.deepEqual(runner.jobs[1]!.groups, [2, 1]);
    await runner.release();
    assert.deepEqual(await b, ["b1!", "b2!"]);
    assert.deepEqual(await c, ["c!"]);
    assert.deepEqual(sizes, [1, 3]);
    assert.equal(batcher.depth, 0);
  });

  test("a request larger than a batch is split over batches and answered in order", async () => {
    const { runner, batcher } = setup({ maxBatch: 2 });
    const r = batcher.submit("m", "listops", ["1", "2", "3", "4", "5"], path);
    for (let i = 0; i < 3; i++) await runner.release();
    assert.deepEqual(await r, ["1!", "2!", "3!", "4!", "5!"]);
    assert.deepEqual(
      runner.jobs.map((j) => j.items),
      [["1", "2"], ["3", "4"], ["5"]],
    );
  });

  test("the first item waits up to maxWaitMs for others to join it", async () => {
    const { runner, batcher } = setup({ maxWaitMs: 50 });
    const a = batcher.submit("m", "listops", ["a"], path);
    await tick(5);
    const b = batcher.submit("m", "listops", ["b"], path);
    assert.equal(runner.jobs.length, 0);
    while (runner.jobs.length === 0) await tick(5);
    assert.deepEqual(runner.jobs[0]!.items, ["a", "b"]);
    await runner.release();
    assert.deepEqual([await a, await b], [["a!"], ["b!"]]);
  });

  test("a full batch goes at once, without waiting", async () => {
    const { runner, batcher } = setup({ maxWaitMs: 60_000, maxBatch: 2 });
    const r = batcher.submit("m", "listops", ["a", "b"], path);
    await tick();
    assert.equal(runner.jobs.length, 1);
    await runner.release();
    assert.deepEqual(await r, ["a!", "b!"]);
  });

  test("different models or jobs never share a batch", async () => {
    const { runner, batcher } = setup();
    const first = batcher.submit("m", "listops", ["x"], path);
    const a = batcher.submit("m", "listops", ["a"], path);
    const b = batcher.submit("n", "listops", ["b"], path);
    const c = batcher.submit("m", "parse", ["c"], path);
    for (let i = 0; i < 4; i++) await runner.release();
    await Promise.all([first, a, b, c]);
    assert.deepEqual(
      runner.jobs.map((j) => [j.model, j.job, j.items]),
      [
        ["m", "listops", ["x"]],
        ["m", "listops", ["a"]],
        ["n", "listops", ["b"]],
        ["m", "parse", ["c"]],
      ],
    );
  });
});

describe("limits and failures", () => {
  test("a full queue refuses with 503 and Retry-After", async () => {
    const { runner, batcher } = setup({ queue: 3, maxBatch: 1 });
    const running = batcher.submit("m", "listops", ["a"], path);
    const waiting = batcher.submit("m", "listops", ["b", "c"], path);
    await tick();
    assert.equal(batcher.depth, 2);
    const err = await rejection(batcher.submit("m", "listops", ["d", "e"], path));
    assert.equal(err.statusCode, 503);
    assert.equal(err.kind, "queue_full");
    assert.deepEqual(err.headers, { "retry-after": "1" });
    assert.equal(err.message, "the queue is full (2 items waiting, at most 3: --queue); retry later");
    for (let i = 0; i < 3; i++) await runner.release();
    await Promise.all([running, waiting]);
  });

  test("a request past its deadline gets 504 and its waiting items leave the queue", async () => {
    const { runner, batcher } = setup({ timeoutMs: 30, maxBatch: 1 });
    const running = rejection(batcher.submit("m", "listops", ["a"], path));
    const err = await rejection(batcher.submit("m", "listops", ["b", "c"], path));
    assert.equal(err.statusCode, 504);
    assert.equal(err.message, "no answer within 30 ms (the limit: --timeout-ms)");
    assert.equal(batcher.depth, 0);
    await runner.release();
    assert.equal((await running).statusCode, 504); // its batch outlived the deadline too
    assert.equal(runner.jobs.length, 1);
  });

  test("a bad item fails its own request with 400 naming it; the others in its batch are answered", async () => {
    const { runner, batcher } = setup();
    const first = batcher.submit("m", "listops", ["x"], path);
    const good = batcher.submit("m", "listops", ["a"], path);
    const bad = rejection(batcher.submit("m", "listops", ["ok", "bad"], path));
    await runner.release();
    await runner.release();
    await first;
    assert.deepEqual(await good, ["a!"]);
    const err = await bad;
    assert.equal(err.statusCode, 400);
    assert.equal(err.message, "body/inputs/1/expression: not an expression");
  });

  test("an item index counts from the request's start when the request was split", async () => {
    const { runner, batcher } = setup({ maxBatch: 2 });
    const r = rejection(batcher.submit("m", "listops", ["a", "b", "c", "bad"], path));
    await runner.release();
    await runner.release();
    assert.equal((await r).message, "body/inputs/3/expression: not an expression");
  });

  test("a batch the model fails answers its requests with 500; the next batch runs", async () => {
    const { runner, batcher } = setup();
    runner.failNext = "TorchError: out of memory";
    const a = batcher.submit("m", "listops", ["a"], path);
    const err = rejection(a);
    await runner.release();
    assert.equal((await err).statusCode, 500);
    assert.equal((await err).message, "the model failed on this batch: TorchError: out of memory");
    const b = batcher.submit("m", "listops", ["b"], path);
    await tick();
    await runner.release();
    assert.deepEqual(await b, ["b!"]);
  });

  test("drain resolves once every request taken is answered", async () => {
    const { runner, batcher } = setup({ maxBatch: 1 });
    const r = batcher.submit("m", "listops", ["a", "b"], path);
    let drained = false;
    const d = batcher.drain().then(() => {
      drained = true;
    });
    await runner.release();
    assert.equal(drained, false);
    await runner.release();
    await d;
    assert.deepEqual(await r, ["a!", "b!"]);
  });
});

describe("two workers", () => {
  test("two batches run side by side; each request gets its own answers whichever finishes first", async () => {
    const { runner, batcher, sizes } = setup({}, 2);
    const a = batcher.submit("m", "listops", ["a"], path);
    const b = batcher.submit("m", "listops", ["b1", "b2"], path);
    await tick();
    assert.equal(runner.running, 2);
    assert.equal(batcher.busyWorkers, 2);
    assert.equal(batcher.runningItems, 3);
    const c = batcher.submit("m", "listops", ["c"], path);
    assert.equal(batcher.depth, 1); // both workers busy: c waits
    let aAnswered = false;
    void a.then(() => {
      aAnswered = true;
    });
    await runner.release(1); // b's batch ends first
    assert.deepEqual(await b, ["b1!", "b2!"]);
    assert.equal(aAnswered, false);
    assert.deepEqual(runner.jobs[2]!.items, ["c"]); // on the worker b's batch freed
    assert.equal(batcher.busyWorkers, 2);
    await runner.release(0);
    assert.deepEqual(await a, ["a!"]);
    await runner.release(0);
    assert.deepEqual(await c, ["c!"]);
    assert.deepEqual(sizes, [2, 1, 1]);
    assert.equal(runner.mostAtOnce, 2);
    assert.deepEqual([batcher.depth, batcher.busyWorkers, batcher.runningItems], [0, 0, 0]);
  });

  test("the items waiting are shared out among the free workers; a request split across them keeps its order", async () => {
    const { runner, batcher } = setup({ maxBatch: 8, maxWaitMs: 20 }, 2);
    const r = batcher.submit("m", "listops", ["1", "2", "3", "4", "5"], path);
    const s = batcher.submit("m", "listops", ["6"], path);
    while (runner.jobs.length < 2) await tick(5);
    assert.deepEqual(
      runner.jobs.map((j) => [j.items, j.groups]),
      [
        [["1", "2", "3"], [3]],
        [
          ["4", "5", "6"],
          [2, 1],
        ],
      ],
    );
    await runner.release(1); // the request's second half ends first
    assert.deepEqual(await s, ["6!"]);
    await runner.release(0);
    assert.deepEqual(await r, ["1!", "2!", "3!", "4!", "5!"]);
  });

  test("a full batch is split in two while both workers are free, not while one is busy", async () => {
    const { runner, batcher } = setup({ maxBatch: 4, maxWaitMs: 60_000 }, 2);
    const full = batcher.submit("m", "listops", ["a", "b", "c", "d"], path);
    await tick();
    assert.deepEqual(
      runner.jobs.map((j) => j.items),
      [
        ["a", "b"],
        ["c", "d"],
      ],
    );
    await runner.release(0);
    const next = batcher.submit("m", "listops", ["e", "f", "g", "h"], path);
    await tick();
    assert.deepEqual(runner.jobs[2]!.items, ["e", "f", "g", "h"]); // one worker free: all of it
    await runner.release(0);
    await runner.release(0);
    assert.deepEqual(await full, ["a!", "b!", "c!", "d!"]);
    assert.deepEqual(await next, ["e!", "f!", "g!", "h!"]);
  });

  test("the wait counts from when a worker became free", async () => {
    const { runner, batcher } = setup({ maxBatch: 8, maxWaitMs: 200 }, 2);
    const first = batcher.submit("m", "listops", Array.from({ length: 16 }, String), path);
    await tick();
    assert.equal(runner.running, 2); // full: two batches of 8 at once
    const late = batcher.submit("m", "listops", ["x"], path);
    await tick(250); // past its own wait, but no worker is free
    assert.equal(runner.jobs.length, 2);
    const freed = performance.now();
    await runner.release(0);
    assert.equal(runner.jobs.length, 2, "dispatched at once, not maxWaitMs after the worker became free");
    while (runner.jobs.length < 3) await tick(5);
    assert.ok(
      performance.now() - freed >= 195,
      `${performance.now() - freed} ms after the worker became free`,
    );
    await runner.release(0);
    await runner.release(0);
    assert.equal((await first).length, 16);
    assert.deepEqual(await late, ["x!"]);
  });

  test("a full queue refuses with 503 while both workers run; past the deadline 504 for all three", async () => {
    const { runner, batcher } = setup({ maxBatch: 1, queue: 3, timeoutMs: 200 }, 2);
    const a = rejection(batcher.submit("m", "listops", ["a"], path));
    const b = rejection(batcher.submit("m", "listops", ["b"], path));
    const c = rejection(batcher.submit("m", "listops", ["c1", "c2"], path));
    await tick();
    assert.deepEqual([runner.running, batcher.depth], [2, 2]);
    const refused = await rejection(batcher.submit("m", "listops", ["d1", "d2"], path));
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.message, "the queue is full (2 items waiting, at most 3: --queue); retry later");
    for (const err of [await a, await b, await c]) assert.equal(err.statusCode, 504);
    assert.equal(batcher.depth, 0);
    await runner.release(0);
    await runner.release(0);
    assert.equal(runner.jobs.length, 2); // c's items left the queue with its deadline
  });

  test("a failing batch answers 500 to its own requests only; the other worker's batch is answered", async () => {
    const { runner, batcher } = setup({}, 2);
    const a = rejection(batcher.submit("m", "listops", ["a"], path));
    const b = batcher.submit("m", "listops", ["b"], path);
    await tick();
    runner.failNext = "the model worker stopped while running this batch (exit code 1)";
    await runner.release(0);
    const err = await a;
    assert.equal(err.statusCode, 500);
    assert.equal(
      err.message,
      "the model failed on this batch: the model worker stopped while running this batch (exit code 1)",
    );
    await runner.release(0);
    assert.deepEqual(await b, ["b!"]);
  });
});

describe("rolling batches", () => {
  test("items go to the workers at once, up to maxBatch each, and wait beyond; gathered models still gather", async () => {
    const { runner, batcher } = setup({ maxBatch: 2, maxWaitMs: 40 }, 2, (model) => model === "r");
    const a = batcher.submit("r", "listops", ["a"], path);
    await tick();
    // No wait for others (maxWaitMs is for gathered batches): the worker takes it at its next step.
    assert.deepEqual(
      runner.jobs.map((j) => [j.items, j.rolling]),
      [[["a"], true]],
    );
    const b = batcher.submit("r", "listops", ["b1", "b2", "b3"], path);
    await tick();
    // Three more fit (2 workers x 2), shared out; the fifth item waits.
    assert.deepEqual(
      runner.jobs.map((j) => j.items),
      [["a"], ["b1", "b2"], ["b3"]],
    );
    const c = batcher.submit("r", "listops", ["c"], path);
    const g = batcher.submit("g", "listops", ["g"], path);
    await tick();
    assert.equal(batcher.depth, 2); // c waits for room, g for its batch to fill or its wait to end
    await runner.release(0); // a answered: room for c
    assert.deepEqual(await a, ["a!"]);
    assert.deepEqual(runner.jobs.at(-1)!.items, ["c"]);
    assert.equal(runner.jobs.at(-1)!.rolling, true);
    assert.equal(batcher.depth, 1);
    for (let k = 0; k < 3; k++) await runner.release(0);
    assert.deepEqual(await b, ["b1!", "b2!", "b3!"]);
    assert.deepEqual(await c, ["c!"]);
    assert.equal(batcher.runningItems, 0);
    assert.equal(batcher.depth, 1); // g, still gathering
    await tick(60);
    assert.deepEqual(runner.jobs.at(-1)!, { model: "g", job: "listops", items: ["g"], groups: [1], limits });
    await runner.release(0);
    assert.deepEqual(await g, ["g!"]);
  });
});
