// The model worker's host (src/serve/model-runner.ts) with a shipped model: a batch's outcome per
// request slice, a failing batch, and a worker that dies mid-batch (that batch fails with the
// reason, a new worker loads the models and the next batch is answered).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEFAULT_INPUT_LIMITS } from "../../src/inference/input-limits.js";
import { predictListOps } from "../../src/inference/raw-input.js";
import { type LoadedModel, loadModelDir } from "../../src/models/model-dir.js";
import { pretrainedDir } from "../../src/models/pretrained.js";
import { ModelRunner } from "../../src/serve/model-runner.js";

let runner: ModelRunner;
let direct: LoadedModel;
const limits = { ...DEFAULT_INPUT_LIMITS };
const job = (items: string[], groups: number[], model = "lo") => ({
  model,
  job: "listops" as const,
  items,
  groups,
  limits,
});

before(async () => {
  runner = new ModelRunner([{ name: "lo", dir: pretrainedDir("listops-pi") }], "cpu");
  direct = loadModelDir(pretrainedDir("listops-pi"));
});

after(async () => {
  await runner.close();
  direct.model.dispose();
});

test("loads the models and tells what they are", async () => {
  const models = await runner.start();
  assert.deepEqual(
    models.map((m) => [m.name, m.task, m.encoder, m.parses]),
    [["lo", "listops", "spinn-pi-nt", false]],
  );
});

test("a batch of two slices: each slice's results, or its first bad item", async () => {
  const result = await runner.run(job(["[MAX 1 2 ]", "[MIN 3 4 ]", "[SM 1", "[MED 1 2 3 ]"], [2, 2]));
  assert.deepEqual(result.outcomes[0], {
    ok: true,
    results: JSON.parse(JSON.stringify(predictListOps(direct, ["[MAX 1 2 ]", "[MIN 3 4 ]"]))),
  });
  assert.deepEqual(result.outcomes[1], {
    ok: false,
    index: 0,
    field: "expression",
    detail: "expression ends early (missing value or ']')",
  });
});

test("a batch that fails rejects with the reason; the worker goes on", async () => {
  await assert.rejects(runner.run(job(["1"], [1], "nope")), /no model named nope in the worker/);
  const ok = await runner.run(job(["7"], [1]));
  assert.equal(ok.outcomes[0]!.ok, true);
});

test("a worker that dies mid-batch fails that batch; a new worker answers the next", async () => {
  const many = Array.from({ length: 3000 }, () => "[MAX 1 2 [MIN 3 4 ] 5 ]");
  const running = runner.run(job(many, [many.length]));
  // What a native abort or an out-of-memory kill would do to the thread.
  await (runner as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  await assert.rejects(running, /^Error: the model worker stopped while running this batch \(exit code 1\)$/);
  assert.equal(runner.restarts, 1);
  const result = await runner.run(job(["[SM 5 6 ]"], [1]));
  assert.deepEqual(result.outcomes[0], {
    ok: true,
    results: JSON.parse(JSON.stringify(predictListOps(direct, ["[SM 5 6 ]"]))),
  });
});
