// The server under concurrent load, on real servers with the shipped models: concurrent requests
// share batches and each gets its own answer; health answers while a large batch runs; the
// bounded queue (503) and the deadline (504) leave the server answering correctly afterwards;
// a server with two model workers answers as one with a single worker does.
// (Live native tensors are checked in cli.test.ts, in a server process that holds nothing else.)
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { classify, predictListOps } from "../../src/inference/raw-input.js";
import { type LoadedModel, loadModelDir } from "../../src/models/model-dir.js";
import { pretrainedDir } from "../../src/models/pretrained.js";
import { get, listOpsSample, metric, post, snliSample, startServer, type TestServer } from "./helpers.js";

const json = (x: unknown) => JSON.parse(JSON.stringify(x));

interface Prediction {
  label: string;
  probabilities: Record<string, number>;
  trees: unknown;
}

/** Each answer is its own pair's: the library's label and trees, its probabilities to 1e-5. */
function assertAnswers(got: Prediction[], want: Prediction[]): void {
  got.forEach((a, i) => {
    const b = want[i]!;
    // A pair's result does not depend on its batch (padding leaves it alone); the floats may
    // differ in the last place with the batch's shape and the BLAS threads.
    assert.equal(a.label, b.label, `pair ${i}`);
    assert.deepEqual(a.trees, b.trees);
    for (const [label, p] of Object.entries(b.probabilities))
      assert.ok(Math.abs(a.probabilities[label]! - p) <= 1e-5, `pair ${i} ${label}`);
  });
}

describe("batching under concurrency", () => {
  let snli: LoadedModel;
  before(() => {
    snli = loadModelDir(pretrainedDir("snli-spinn"));
  });
  after(() => snli.model.dispose());

  const concurrent = async (server: TestServer, pairs: { premise: string; hypothesis: string }[]) => {
    const answers = await Promise.all(pairs.map((p) => post(`${server.url}/v1/predict`, { inputs: p })));
    for (const a of answers) assert.equal(a.status, 200);
    assertAnswers(
      answers.map((a) => (a.body.predictions as Prediction[])[0]!),
      json(classify(snli, pairs)),
    );
  };

  test("gathered: 32 concurrent single-pair requests run in fewer batches, each answered with its own pair", async () => {
    const server = await startServer(["snli-spinn"], { maxWaitMs: 20, maxBatch: 64, rolling: false });
    try {
      const pairs = snliSample().slice(0, 32);
      await concurrent(server, pairs);
      const batches = await metric(server.url, 'spinn_batch_size_count{model="snli-spinn"}');
      assert.equal(await metric(server.url, 'spinn_batch_size_sum{model="snli-spinn"}'), 32);
      assert.ok(batches < 32, `${batches} batches for 32 requests`);
    } finally {
      await server.app.close();
    }
  });

  test("rolling: 32 concurrent single-pair requests share the running batch, each answered with its own pair", async () => {
    const server = await startServer(["snli-spinn"], { maxBatch: 64, workers: 1 });
    try {
      const models = (await get(`${server.url}/v1/models`)).body.models as { rolling: boolean }[];
      assert.equal(models[0]!.rolling, true);
      const pairs = snliSample().slice(0, 32);
      await concurrent(server, pairs);
      // One job per request; the batch each ran in held more than its own pair on average.
      const jobs = await metric(server.url, 'spinn_batch_size_count{model="snli-spinn"}');
      const held = await metric(server.url, 'spinn_batch_size_sum{model="snli-spinn"}');
      assert.equal(jobs, 32);
      assert.ok(held / jobs > 1, `mean batch ${held / jobs}`);
      assert.ok((await metric(server.url, "spinn_model_busy_seconds")) > 0);
    } finally {
      await server.app.close();
    }
  });
});

describe("two model workers", () => {
  for (const rolling of [false, true]) {
    test(`64 concurrent requests get the same answers from --workers 2 as from --workers 1 (${rolling ? "rolling" : "gathered"})`, async () => {
      const pairs = snliSample().slice(0, 64);
      const answersOf = async (workers: number) => {
        // One server at a time: the OpenBLAS thread count the workers set is process-wide.
        const server = await startServer(["snli-spinn"], { workers, maxWaitMs: 2, maxBatch: 16, rolling });
        try {
          const answers = await Promise.all(
            pairs.map((p) => post(`${server.url}/v1/predict`, { inputs: p })),
          );
          for (const a of answers) assert.equal(a.status, 200);
          assert.equal(await metric(server.url, "spinn_model_workers"), workers);
          const sample = rolling ? "spinn_batch_size_count" : "spinn_batch_size_sum";
          assert.equal(await metric(server.url, `${sample}{model="snli-spinn"}`), 64);
          assert.equal(await metric(server.url, "spinn_model_workers_busy"), 0);
          return answers.map((a) => (a.body.predictions as Prediction[])[0]!);
        } finally {
          await server.app.close();
        }
      };
      const one = await answersOf(1);
      assertAnswers(await answersOf(2), one);
    });
  }
});

describe("a large batch", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(["snli-spinn"], { maxBatch: 1000, queue: 2000 });
  });
  after(async () => server.app.close());

  test("health and metrics answer while it runs", async () => {
    const pairs = snliSample();
    const inputs = Array.from({ length: 1000 }, (_, i) => pairs[i % pairs.length]);
    let predicted = false;
    const big = post(`${server.url}/v1/predict`, { inputs }).then((r) => {
      predicted = true;
      return r;
    });
    while ((await metric(server.url, "spinn_batch_items_running")) < 1000 && !predicted)
      await new Promise((r) => setTimeout(r, 2));
    const health = await get(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(predicted, false, "the large batch had already finished: health was not tested during it");
    const r = await big;
    assert.equal(r.status, 200);
    assert.equal((r.body.predictions as unknown[]).length, 1000);
  });
});

describe("queue and deadline on a real server", () => {
  let server: TestServer;
  let listops: LoadedModel;
  before(async () => {
    // One item per batch and a short deadline: a request of 1,000 expressions cannot finish in time.
    server = await startServer(["listops-pi"], { maxBatch: 1, maxWaitMs: 0, queue: 1000, timeoutMs: 300 });
    listops = loadModelDir(pretrainedDir("listops-pi"));
  });
  after(async () => {
    await server.app.close();
    listops.model.dispose();
  });

  test("503 with Retry-After while the queue is full, 504 past the deadline, then correct answers", async () => {
    const sample = listOpsSample();
    const inputs = Array.from({ length: 1000 }, (_, i) => ({ expression: sample[i % sample.length]! }));
    const big = post(`${server.url}/v1/predict`, { inputs });
    while ((await metric(server.url, "spinn_queue_depth")) === 0) await new Promise((r) => setTimeout(r, 2));
    const refused = await post(`${server.url}/v1/predict`, { inputs: inputs.slice(0, 10) });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.match(
      refused.body.message as string,
      /^the queue is full \(\d+ items waiting, at most 1000: --queue\); retry later$/,
    );
    const late = await big;
    assert.equal(late.status, 504);
    assert.equal(late.body.message, "no answer within 300 ms (the limit: --timeout-ms)");
    assert.equal(await metric(server.url, "spinn_queue_depth"), 0);
    const ok = await post(`${server.url}/v1/predict`, { inputs: inputs.slice(0, 3) });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.predictions, json(predictListOps(listops, sample.slice(0, 3))));
    assert.equal(await metric(server.url, 'spinn_errors_total{kind="queue_full"}'), 1);
    assert.equal(await metric(server.url, 'spinn_errors_total{kind="timeout"}'), 1);
  });
});
