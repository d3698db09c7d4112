// The HTTP API of `spinn serve` on a real server with the shipped models: every endpoint, its
// answers against the library called directly (classify, predictListOps, parse), and every
// error case with its status and message.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { snakeKeys } from "../../src/cli/json-output.js";
import { classify, parse, predictListOps } from "../../src/inference/raw-input.js";
import { type LoadedModel, loadModelDir } from "../../src/models/model-dir.js";
import { pretrainedDir, readCard } from "../../src/models/pretrained.js";
import { get, listOpsSample, post, snliSample, startServer, type TestServer } from "./helpers.js";

let server: TestServer;
const direct = new Map<string, LoadedModel>();
const NAMES = ["snli-spinn", "listops-pi", "listops-rl"];

/** Probabilities through the server equal the library's to the 6 decimals raw-input rounds to. */
interface Prediction {
  label: string;
  probabilities: Record<string, number>;
  trees: unknown;
}

/**
 * The same labels and trees, and the same probabilities to 1e-5: a model in a rolling batch
 * computes each item's rows in products of other shapes than the library's batch, so the float32
 * results may differ in the last places (more for deep ListOps trees, whose rounding compounds
 * over their levels: 3e-6 seen).
 */
function assertSamePredictions(got: unknown[], want: object[]): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    const a = g as Prediction;
    const b = JSON.parse(JSON.stringify(want[i])) as Prediction;
    assert.deepEqual({ ...a, probabilities: null }, { ...b, probabilities: null }, `item ${i}`);
    assert.deepEqual(Object.keys(a.probabilities), Object.keys(b.probabilities));
    for (const [label, p] of Object.entries(b.probabilities))
      assert.ok(
        Math.abs(a.probabilities[label]! - p) <= 1e-5,
        `item ${i} ${label}: ${a.probabilities[label]} vs ${p}`,
      );
  });
}

before(async () => {
  // One worker: a request to a model without a rolling batch then runs as one batch, as the
  // library's call does (two free workers would share it out in two batches; load.test.ts
  // compares two workers with one).
  server = await startServer(NAMES, {
    limits: { maxTokens: 60, maxLineBytes: 4000 },
    bodyLimit: 200_000,
    workers: 1,
  });
  for (const name of NAMES) direct.set(name, loadModelDir(pretrainedDir(name)));
});

after(async () => {
  await server.app.close();
  for (const m of direct.values()) m.model.dispose();
});

describe("endpoints", () => {
  test("GET /healthz", async () => {
    const r = await get(`${server.url}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: "ok" });
  });

  test("GET /v1/models: name, task, encoder, parses, rolling, labels, sizes, card; in command-line order", async () => {
    const r = await get(`${server.url}/v1/models`);
    assert.equal(r.status, 200);
    const models = r.body.models as Record<string, unknown>[];
    assert.deepEqual(
      models.map((m) => [m.name, m.task, m.encoder, m.parses, m.rolling]),
      [
        ["snli-spinn", "nli", "spinn", true, true],
        ["listops-pi", "listops", "spinn-pi-nt", false, true],
        ["listops-rl", "listops", "rl-spinn", true, true],
      ],
    );
    assert.deepEqual(models[0]!.labels, ["entailment", "neutral", "contradiction"]);
    assert.deepEqual(models[1]!.labels, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    const config = direct.get("listops-pi")!.model.config;
    assert.deepEqual(models[1]!.sizes, {
      vocab_size: config.vocabSize,
      d_embed: config.dEmbed,
      d_hidden: config.dHidden,
      d_tracker: config.dTracker,
      d_mlp: config.dMlp,
      n_mlp: config.nMlp,
      embed_dropout: config.embedDropout,
      mlp_dropout: config.mlpDropout,
    });
    // listops-rl decides its trees with a separate parser, whose sizes are listed beside the composer's.
    const rl = direct.get("listops-rl")!.model.config;
    const sizes = (k: number) => models[k]!.sizes as Record<string, number>;
    assert.equal(sizes(2).parser_hidden, rl.parser!.dHidden);
    assert.equal(sizes(2).parser_tracker, rl.parser!.dTracker);
    assert.equal(sizes(2).composer_tracker, rl.composerTracker ?? 0);
    assert.equal(sizes(1).parser_hidden, undefined);
    for (const m of models) assert.deepEqual(m.card, snakeKeys(readCard(m.name as string)));
    assert.equal(
      (models[0]!.card as { test: { tree_f1: number } }).test.tree_f1,
      readCard("snli-spinn").test.treeF1,
    );
  });

  test("POST /v1/predict, NLI: one pair or a list, equal to classify; the first model is the default", async () => {
    const pairs = snliSample().slice(0, 20);
    const one = await post(`${server.url}/v1/predict`, { inputs: pairs[0] });
    assert.equal(one.status, 200);
    assert.equal(one.body.model, "snli-spinn");
    assertSamePredictions(
      one.body.predictions as unknown[],
      classify(direct.get("snli-spinn")!, [pairs[0]!]),
    );
    const many = await post(`${server.url}/v1/predict`, { model: "snli-spinn", inputs: pairs });
    assertSamePredictions(many.body.predictions as unknown[], classify(direct.get("snli-spinn")!, pairs));
    const first = (many.body.predictions as { trees: { premise: string } }[])[0]!;
    assert.match(first.trees.premise, /^\( /);
  });

  test("POST /v1/predict, NLI with given parses: the trees used are those parses", async () => {
    const item = {
      premise: "A dog runs .",
      hypothesis: "An animal moves .",
      premise_parse: "( ( A dog ) ( runs . ) )",
      hypothesis_parse: "( ( An animal ) ( moves . ) )",
    };
    const r = await post(`${server.url}/v1/predict`, { inputs: [item] });
    assert.equal(r.status, 200);
    const [p] = r.body.predictions as { trees: unknown }[];
    // Full SPINN parses by itself at prediction; the library decides, the server passes them on.
    const want = classify(direct.get("snli-spinn")!, [
      {
        premise: item.premise,
        hypothesis: item.hypothesis,
        premiseParse: item.premise_parse,
        hypothesisParse: item.hypothesis_parse,
      },
    ]);
    assert.deepEqual(p!.trees, want[0]!.trees);
  });

  test("POST /v1/predict, ListOps: equal to predictListOps, bracketed or flat", async () => {
    // Within this server's 60-token limit (the shipped sample has the published lengths).
    const expressions = listOpsSample()
      .filter((e) => e.split(" ").length <= 60)
      .slice(0, 30);
    for (const name of ["listops-pi", "listops-rl"]) {
      const r = await post(`${server.url}/v1/predict`, {
        model: name,
        inputs: expressions.map((expression) => ({ expression })),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.model, name);
      assertSamePredictions(r.body.predictions as unknown[], predictListOps(direct.get(name)!, expressions));
    }
    const flat = await post(`${server.url}/v1/predict`, {
      model: "listops-rl",
      inputs: { expression: "[MAX 2 9 [MIN 4 7 ] 0 ]" },
    });
    assertSamePredictions(
      flat.body.predictions as unknown[],
      predictListOps(direct.get("listops-rl")!, ["[MAX 2 9 [MIN 4 7 ] 0 ]"]),
    );
  });

  test("POST /v1/parse: tokens, transitions and tree, equal to parse", async () => {
    const sentences = ["A man plays a guitar.", "Two dogs run through the snow."];
    const r = await post(`${server.url}/v1/parse`, { sentences });
    assert.equal(r.status, 200);
    assert.equal(r.body.model, "snli-spinn");
    const want = parse(direct.get("snli-spinn")!, sentences).map((p) => ({
      ...p,
      transitions: [...p.transitions],
    }));
    assert.deepEqual(r.body.parses, want);
    const one = await post(`${server.url}/v1/parse`, { model: "listops-rl", sentences: "[MAX 2 9 ]" });
    assert.deepEqual(one.body.parses, [
      {
        ...parse(direct.get("listops-rl")!, ["[MAX 2 9 ]"])[0]!,
        transitions: [...parse(direct.get("listops-rl")!, ["[MAX 2 9 ]"])[0]!.transitions],
      },
    ]);
  });

  test("GET /metrics: Prometheus text with requests, latency, batch sizes, queue depth, errors, live tensors", async () => {
    await get(`${server.url}/healthz`);
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain/);
    const text = await res.text();
    for (const name of [
      "spinn_http_requests_total",
      "spinn_http_request_duration_seconds",
      "spinn_batch_size",
      "spinn_queue_depth",
      "spinn_errors_total",
      "spinn_native_live_tensors",
    ])
      assert.match(text, new RegExp(`^# TYPE ${name} `, "m"));
    assert.match(text, /^spinn_http_requests_total\{method="GET",route="\/healthz",status="200"\} [1-9]/m);
    assert.match(text, /^spinn_queue_depth 0$/m);
  });
});

describe("errors", () => {
  const cases: [string, unknown, number, string | RegExp][] = [
    ["truncated JSON", '{"inputs": [{"premise": "A', 400, /^invalid JSON body: /],
    ["empty body", "", 400, /^invalid JSON body: Unexpected end of JSON input/],
    ["no inputs", { model: "snli-spinn" }, 400, "body must have required property 'inputs'"],
    [
      "a number for a sentence",
      { inputs: [{ premise: 3, hypothesis: "x" }] },
      400,
      "body/inputs/0/premise must be string",
    ],
    [
      "an unknown field",
      { inputs: [{ premise: "a", hypothesis: "b", label: "x" }] },
      400,
      "body/inputs/0 must NOT have additional properties",
    ],
    ["an empty list", { inputs: [] }, 400, "body/inputs must NOT have fewer than 1 items"],
    [
      "a field missing for the task",
      { inputs: [{ premise: "A dog runs." }] },
      400,
      "body/inputs/0 must have required property 'hypothesis'",
    ],
    [
      "a field of the other task",
      { model: "listops-pi", inputs: [{ expression: "[MAX 1 2 ]", premise: "x" }] },
      400,
      "body/inputs/0/premise: not a field of a listops item (model listops-pi reads expression)",
    ],
    [
      "an unparsable ListOps expression",
      { model: "listops-pi", inputs: [{ expression: "[MAX 1 2 ]" }, { expression: "[MAX 2" }] },
      400,
      "body/inputs/1/expression: expression ends early (missing value or ']')",
    ],
    [
      "a malformed given parse",
      { inputs: [{ premise: "A dog", hypothesis: "A cat", hypothesis_parse: "( A cat" }] },
      400,
      /^body\/inputs\/0\/hypothesis_parse: /,
    ],
    [
      "an empty sentence",
      { inputs: [{ premise: "  ", hypothesis: "A cat" }] },
      400,
      "body/inputs/0/premise: empty sentence (no words)",
    ],
    [
      "too many tokens",
      { inputs: [{ premise: "a ".repeat(61), hypothesis: "A cat" }] },
      400,
      "body/inputs/0/premise: 61 tokens, more than the limit of 60 (raise it with --max-tokens)",
    ],
    [
      "an item over the byte limit",
      { model: "listops-pi", inputs: [{ expression: "x".repeat(5000) }] },
      400,
      "body/inputs/0: 5017 bytes, more than the limit of 4000 for one item (raise it with --max-line-bytes)",
    ],
    [
      "an unknown model",
      { model: "nope", inputs: [{ expression: "1" }] },
      404,
      'no model named "nope" (loaded: snli-spinn, listops-pi, listops-rl)',
    ],
    [
      "a body over the limit",
      { inputs: [{ premise: "a".repeat(250_000), hypothesis: "b" }] },
      413,
      "request body larger than 200000 bytes (the limit: --body-limit)",
    ],
  ];
  for (const [what, body, status, message] of cases) {
    test(`${what}: ${status}`, async () => {
      const r = await post(`${server.url}/v1/predict`, body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.deepEqual(Object.keys(r.body), ["statusCode", "error", "message"]);
      assert.equal(r.body.statusCode, status);
      if (typeof message === "string") assert.equal(r.body.message, message);
      else assert.match(r.body.message as string, message);
    });
  }

  test("a bad item fails its request only; the server answers the next one", async () => {
    const bad = post(`${server.url}/v1/predict`, { model: "listops-pi", inputs: [{ expression: "[SM" }] });
    const good = post(`${server.url}/v1/predict`, {
      model: "listops-pi",
      inputs: [{ expression: "[SM 3 4 ]" }],
    });
    assert.equal((await bad).status, 400);
    const g = await good;
    assert.equal(g.status, 200);
    assert.deepEqual(
      g.body.predictions,
      JSON.parse(JSON.stringify(predictListOps(direct.get("listops-pi")!, ["[SM 3 4 ]"]))),
    );
  });

  test("parse with a model that does not parse: 400 naming the models that do", async () => {
    const r = await post(`${server.url}/v1/parse`, { model: "listops-pi", sentences: ["[MAX 1 2 ]"] });
    assert.equal(r.status, 400);
    assert.equal(
      r.body.message,
      "model listops-pi (spinn-pi-nt) composes along given trees and does not parse; loaded models that parse: snli-spinn, listops-rl",
    );
  });

  test("parse: a sentence that is not a string, and an unknown route", async () => {
    const r = await post(`${server.url}/v1/parse`, { sentences: ["ok", 5] });
    assert.equal(r.status, 400);
    assert.equal(r.body.message, "body/sentences/1 must be string");
    const missing = await get(`${server.url}/v2/predict`);
    assert.equal(missing.status, 404);
    assert.match(missing.body.message as string, /^no route GET \/v2\/predict \(routes: GET \/healthz, /);
  });

  test("a body that is not JSON: 415", async () => {
    const r = await post(`${server.url}/v1/predict`, "premise=a", "application/x-www-form-urlencoded");
    assert.equal(r.status, 415);
    assert.equal(
      r.body.message,
      'unsupported media type "application/x-www-form-urlencoded": send JSON (content-type: application/json)',
    );
  });

  test("a compressed body: 415 naming the encoding, not invalid JSON", async () => {
    const res = await fetch(`${server.url}/v1/predict`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(JSON.stringify({ inputs: [{ premise: "a dog runs", hypothesis: "an animal moves" }] })),
    });
    assert.equal(res.status, 415);
    assert.equal(
      ((await res.json()) as { message: string }).message,
      'unsupported content-encoding "gzip": send the body uncompressed',
    );
    const plain = await post(`${server.url}/v1/predict`, {
      inputs: [{ premise: "a dog", hypothesis: "a cat" }],
    });
    assert.equal(plain.status, 200);
  });

  test("JSON sent as text/plain: 415 too, not a schema error", async () => {
    const body = JSON.stringify({ inputs: [{ premise: "a dog runs", hypothesis: "an animal moves" }] });
    const r = await post(`${server.url}/v1/predict`, body, "text/plain");
    assert.equal(r.status, 415);
    assert.equal(
      r.body.message,
      'unsupported media type "text/plain": send JSON (content-type: application/json)',
    );
  });

  test("errors are counted by kind", async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    for (const kind of [
      "invalid_json",
      "invalid_request",
      "invalid_input",
      "unknown_model",
      "body_too_large",
      "not_found",
    ])
      assert.match(text, new RegExp(`^spinn_errors_total\\{kind="${kind}"\\} [1-9]`, "m"), kind);
  });
});
