// The pool of model workers (src/serve/worker-pool.ts) with a shipped model: two batches at once,
// each answered as the library answers; one OpenBLAS thread (process-wide) with two workers, the
// engine's default with one; a worker that dies mid-batch: its batch fails with the reason, the
// other worker's batch is answered, and that worker alone is started again; and one that cannot
// be started again fails its batches at once instead of holding them.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { runtimeInfo } from "../../src/engine/index.js";
import { DEFAULT_INPUT_LIMITS } from "../../src/inference/input-limits.js";
import { predictListOps } from "../../src/inference/raw-input.js";
import { type LoadedModel, loadModelDir } from "../../src/models/model-dir.js";
import { pretrainedDir } from "../../src/models/pretrained.js";
import { WorkerPool } from "../../src/serve/worker-pool.js";
import { listOpsSample } from "./helpers.js";

const sources = [{ name: "lo", dir: pretrainedDir("listops-pi") }];
const limits = { ...DEFAULT_INPUT_LIMITS };
const job = (items: string[]) => ({
  model: "lo",
  job: "listops" as const,
  items,
  groups: [items.length],
  limits,
});
const json = (x: unknown) => JSON.parse(JSON.stringify(x));

/** The pool's runners, as far as these tests look inside. */
interface RunnerInside {
  worker: { terminate(): Promise<number> } | null;
  current: unknown;
}
const runnersOf = (pool: WorkerPool) => (pool as unknown as { runners: RunnerInside[] }).runners;

let direct: LoadedModel;
before(() => {
  direct = loadModelDir(pretrainedDir("listops-pi"));
});
after(() => direct.model.dispose());

describe("a pool of two workers", () => {
  const pool = new WorkerPool(sources, "cpu", 2);
  after(() => pool.close());

  test("loads the models in both workers, each on one BLAS thread", async () => {
    const models = await pool.start();
    assert.deepEqual(
      models.map((m) => [m.name, m.task, m.encoder]),
      [["lo", "listops", "spinn-pi-nt"]],
    );
    assert.equal(pool.workers, 2);
    // Process-wide: what the workers set as they loaded the addon is what this thread reads.
    if (process.env.SPINN_BLAS_THREADS === undefined) assert.equal(runtimeInfo().blasThreads, 1);
  });

  test("two batches run at once, each answered as the library answers", async () => {
    const sample = listOpsSample();
    const [first, second] = [sample.slice(0, 40), sample.slice(40, 70)];
    const results = await Promise.all([pool.run(job(first)), pool.run(job(second))]);
    assert.deepEqual(results[0]!.outcomes, [{ ok: true, results: json(predictListOps(direct, first)) }]);
    assert.deepEqual(results[1]!.outcomes, [{ ok: true, results: json(predictListOps(direct, second)) }]);
    const busy = [pool.run(job(first)), pool.run(job(second))];
    assert.throws(() => pool.run(job(first)), /^Error: WorkerPool.run: all 2 workers are running a batch$/);
    await Promise.all(busy);
  });

  test("a worker that dies mid-batch fails its batch alone; only it is started again", async () => {
    const many = Array.from({ length: 3000 }, () => "[MAX 1 2 [MIN 3 4 ] 5 ]");
    const doomed = pool.run(job(many));
    const [dying] = runnersOf(pool).filter((r) => r.current !== null);
    const survivor = runnersOf(pool).find((r) => r !== dying)!;
    const survivorWorker = survivor.worker;
    const other = pool.run(job(["[SM 5 6 ]"]));
    // What a native abort or an out-of-memory kill would do to the thread.
    await dying!.worker!.terminate();
    await assert.rejects(
      doomed,
      /^Error: the model worker stopped while running this batch \(exit code 1\)$/,
    );
    assert.deepEqual((await other).outcomes, [
      { ok: true, results: json(predictListOps(direct, ["[SM 5 6 ]"])) },
    ]);
    assert.equal(pool.restarts, 1);
    assert.equal(survivor.worker, survivorWorker, "the other worker was left alone");
    // Both answer again, the new worker included (its batch waits for it to load the models).
    const expressions = listOpsSample().slice(0, 8);
    const again = await Promise.all([pool.run(job(expressions)), pool.run(job(expressions))]);
    for (const r of again)
      assert.deepEqual(r.outcomes, [{ ok: true, results: json(predictListOps(direct, expressions)) }]);
    if (process.env.SPINN_BLAS_THREADS === undefined)
      assert.equal(runtimeInfo().blasThreads, 1, "the new worker kept one BLAS thread");
  });
});

describe("a pool of one worker", () => {
  const pool = new WorkerPool(sources, "cpu", 1);
  after(() => pool.close());

  test("keeps the engine's default BLAS threads (every core)", async () => {
    await pool.start();
    const expected = Number(process.env.SPINN_BLAS_THREADS ?? availableParallelism());
    assert.equal(runtimeInfo().blasThreads, expected);
    const expressions = listOpsSample().slice(0, 5);
    assert.deepEqual((await pool.run(job(expressions))).outcomes, [
      { ok: true, results: json(predictListOps(direct, expressions)) },
    ]);
  });
});

test("a pool needs at least one worker", () => {
  assert.throws(
    () => new WorkerPool(sources, "cpu", 0),
    /^RangeError: WorkerPool: workers must be an integer >= 1, got 0$/,
  );
});

test("a worker that cannot be started again fails its batches at once; the pool prefers the one that works", async () => {
  // A copy of the model that goes away once loaded: starting a worker again then fails.
  const dir = mkdtempSync(path.join(tmpdir(), "spinn-pool-"));
  cpSync(pretrainedDir("listops-pi"), dir, { recursive: true });
  const pool = new WorkerPool([{ name: "lo", dir }], "cpu", 2);
  try {
    await pool.start();
    rmSync(dir, { recursive: true });
    const many = Array.from({ length: 3000 }, () => "[MAX 1 2 [MIN 3 4 ] 5 ]");
    const doomed = pool.run(job(many));
    const dying = runnersOf(pool).find((r) => r.current !== null)!;
    await dying.worker!.terminate();
    await assert.rejects(doomed, /^Error: the model worker stopped while running this batch/);
    const expressions = listOpsSample().slice(0, 4);
    const want = [{ ok: true, results: json(predictListOps(direct, expressions)) }];
    // Two at once: one goes to the worker being started again, and fails with the reason rather
    // than waiting forever for a worker that is gone; the other is answered.
    const both = Promise.allSettled([pool.run(job(expressions)), pool.run(job(expressions))]);
    const settled = await Promise.race([
      both,
      new Promise<"hung">((r) => setTimeout(() => r("hung"), 20_000)),
    ]);
    assert.notEqual(settled, "hung");
    const outcomes = (settled as PromiseSettledResult<{ outcomes: unknown }>[]).map((r) =>
      r.status === "fulfilled" ? r.value.outcomes : String(r.reason),
    );
    assert.equal(outcomes.filter((o) => typeof o !== "string").length, 1, JSON.stringify(outcomes));
    for (const o of outcomes)
      if (typeof o === "string") assert.match(o, /^Error: the model worker could not be started again: /);
      else assert.deepEqual(o, want);
    // From now on one batch at a time goes to the worker that works, every time.
    for (let k = 0; k < 3; k++) assert.deepEqual((await pool.run(job(expressions))).outcomes, want);
    // Two at once: the second goes to the broken worker and fails at once, naming why.
    const [ok, broken] = await Promise.allSettled([pool.run(job(expressions)), pool.run(job(expressions))]);
    assert.deepEqual(ok.status === "fulfilled" && ok.value.outcomes, want);
    assert.equal(broken.status, "rejected");
    assert.match(String((broken as PromiseRejectedResult).reason), /could not be started again: /);
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
