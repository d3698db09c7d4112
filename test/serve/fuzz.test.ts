// A bounded fuzz of malformed request bodies from a seeded generator (truncated JSON, wrong
// types, huge strings, nested junk, unknown models and fields, bad expressions and parses):
// every one is refused with a 4xx and a one-line message in fastify's error shape, never a 500,
// and afterwards the server still answers a correct request correctly.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Rng } from "../../src/data/rng.js";
import { predictListOps } from "../../src/inference/raw-input.js";
import { type LoadedModel, loadModelDir } from "../../src/models/model-dir.js";
import { pretrainedDir } from "../../src/models/pretrained.js";
import { get, metric, post, startServer, type TestServer } from "./helpers.js";

const COUNT = 300;
let server: TestServer;
let listops: LoadedModel;

before(async () => {
  server = await startServer(["snli-spinn", "listops-pi"], {
    bodyLimit: 50_000,
    limits: { maxTokens: 200, maxLineBytes: 4000 },
  });
  listops = loadModelDir(pretrainedDir("listops-pi"));
});

after(async () => {
  await server.app.close();
  listops.model.dispose();
});

const VALID_NLI = { inputs: [{ premise: "A man plays.", hypothesis: "A person plays." }] };
const VALID_LISTOPS = { model: "listops-pi", inputs: [{ expression: "[MAX 2 9 [MIN 4 7 ] 0 ]" }] };
const JUNK: unknown[] = [0, -1.5, true, null, [], {}, [[[]]], { a: { b: [1] } }, "", "x"];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

function junkString(rng: Rng, length: number): string {
  const alphabet = '[]() MAXMINMEDSM0123456789"\\\u0000\u00e9\ud83d\ude00{},:\t\n';
  return Array.from({ length }, () => alphabet[rng.int(alphabet.length)]!).join("");
}

function nested(depth: number): unknown {
  let v: unknown = "deep";
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { x: v };
  return v;
}

/** One malformed body (a string is sent as it is, anything else as JSON). */
const GENERATORS: ((rng: Rng) => unknown)[] = [
  // truncated JSON
  (rng) => {
    const text = JSON.stringify(pick(rng, [VALID_NLI, VALID_LISTOPS]));
    return text.slice(0, rng.int(text.length - 1) + 1);
  },
  // random characters
  (rng) => junkString(rng, 1 + rng.int(200)),
  // a wrong type for a field of an item
  (rng) => {
    const field = pick(rng, ["premise", "hypothesis", "premise_parse"]);
    return {
      inputs: [
        {
          ...VALID_NLI.inputs[0],
          [field]: pick(
            rng,
            JUNK.filter((j) => typeof j !== "string"),
          ),
        },
      ],
    };
  },
  // a wrong type for inputs, model or sentences
  (rng) =>
    pick(rng, [
      { inputs: pick(rng, [0, true, null, "x", [0], [null], [[]]]) },
      { model: pick(rng, [0, null, [], {}]), inputs: VALID_NLI.inputs },
      { sentences: pick(rng, [0, null, {}, [1], [[]]]) },
    ]),
  // a body that is not an object
  (rng) =>
    pick(
      rng,
      JUNK.filter((j) => typeof j !== "object" || j === null || Array.isArray(j)),
    ),
  // huge strings: over the item limit, or over the body limit
  (rng) =>
    rng.int(2) === 0
      ? { model: "listops-pi", inputs: [{ expression: "7 ".repeat(2100 + rng.int(1000)) }] }
      : { inputs: [{ premise: "a".repeat(50_000 + rng.int(10_000)), hypothesis: "b" }] },
  // nested junk
  (rng) => ({ inputs: nested(1 + rng.int(200)) }),
  // an unknown model
  (rng) => ({ ...VALID_NLI, model: `model-${junkString(rng, 1 + rng.int(10))}` }),
  // unknown or missing fields, fields of the other task
  (rng) =>
    pick(rng, [
      { inputs: [{ premise: "a" }] },
      { inputs: [{ expression: "[MAX 1 2 ]" }] },
      { model: "listops-pi", inputs: [{ premise: "a", hypothesis: "b" }] },
      { inputs: VALID_NLI.inputs, extra: 1 },
      JSON.stringify({ inputs: VALID_NLI.inputs }).replace("{", '{"__proto__":{"x":1},'),
    ]),
  // a bad expression or a bad given parse, among good items
  (rng) => {
    const good = { expression: "[SM 1 2 ]" };
    const bad = { expression: `[${pick(rng, ["MAX", "MIN", "MED", "SM"])} ${junkString(rng, rng.int(6))}` };
    const inputs = [good, good, good];
    inputs.splice(rng.int(4), 0, bad);
    return rng.int(3) === 0
      ? {
          inputs: [
            { premise: "A b", hypothesis: "C d", premise_parse: `( ${junkString(rng, 1 + rng.int(8))}` },
          ],
        }
      : { model: "listops-pi", inputs };
  },
  // parse: a model that does not parse, empty sentences
  (rng) =>
    pick(rng, [
      { model: "listops-pi", sentences: ["[MAX 1 2 ]"] },
      { sentences: ["   "] },
      { sentences: [] },
    ]),
];

test(`${COUNT} malformed bodies: each a 4xx with a one-line message; then a correct answer`, async () => {
  const rng = new Rng(13);
  const statuses = new Map<number, number>();
  for (let i = 0; i < COUNT; i++) {
    const g = rng.int(GENERATORS.length);
    const body = GENERATORS[g]!(rng);
    const route = typeof body === "object" && body !== null && "sentences" in body ? "parse" : "predict";
    const r = await post(`${server.url}/v1/${route}`, body);
    const what = `body ${i} (generator ${g}): ${JSON.stringify(body).slice(0, 200)} -> ${JSON.stringify(r.body)}`;
    assert.ok(r.status >= 400 && r.status < 500, what);
    assert.deepEqual(Object.keys(r.body), ["statusCode", "error", "message"], what);
    assert.equal(r.body.statusCode, r.status, what);
    const message = r.body.message as string;
    assert.ok(message.length > 0 && !message.includes("\n"), what);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  }
  // The generator reached every kind of refusal.
  assert.deepEqual([...statuses.keys()].sort(), [400, 404, 413]);
  assert.equal((await get(`${server.url}/healthz`)).status, 200);
  assert.equal(await metric(server.url, "spinn_queue_depth"), 0);
  const expressions = ["[MAX 2 9 [MIN 4 7 ] 0 ]", "[SM 1 2 ]", "[MED 3 5 8 ]"];
  const ok = await post(`${server.url}/v1/predict`, {
    model: "listops-pi",
    inputs: expressions.map((expression) => ({ expression })),
  });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body.predictions, JSON.parse(JSON.stringify(predictListOps(listops, expressions))));
  assert.equal(await metric(server.url, 'spinn_errors_total{kind="internal"}'), 0);
  assert.equal(await metric(server.url, 'spinn_errors_total{kind="model_error"}'), 0);
});
