// The web plugin's routes, through fastify's inject: the runs list and a run's metrics (checked,
// a torn last line left out, lines from before timestamps accepted), bad names refused before
// the file system is asked, damaged files named, and the page's assets served from the fixed table.
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { webPlugin } from "../../src/serve/web.js";
import { trainRun } from "./run-fixture.js";

const dir = mkdtempSync(path.join(tmpdir(), "spinn-web-api-"));
const runsDir = path.join(dir, "runs");
const run = path.join(runsDir, "tiny");
const metricsOf = (name: string) => path.join(runsDir, name, "metrics.jsonl");
const linesOf = (name: string) =>
  readFileSync(metricsOf(name), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

/** A copy of the trained run under `name`, its metrics replaced by `metrics` when given. */
function copyRun(name: string, metrics?: string): void {
  cpSync(run, path.join(runsDir, name), { recursive: true });
  if (metrics !== undefined) writeFileSync(metricsOf(name), metrics);
}

describe("runs endpoints", () => {
  let app: FastifyInstance;
  const get = async (url: string) => {
    const r = await app.inject({ method: "GET", url });
    return { status: r.statusCode, json: r.headers["content-type"]?.includes("json") ? r.json() : null, r };
  };

  before(async () => {
    trainRun(path.join(dir, "data"), run);
    mkdirSync(path.join(runsDir, "notes")); // not a run: no metrics.jsonl
    writeFileSync(path.join(runsDir, "README"), "not a run either\n");
    app = Fastify();
    await app.register(webPlugin, { runsDir });
  });
  after(() => app?.close());

  test("GET /v1/runs sums up each run from its files", async () => {
    const { status, json } = await get("/v1/runs");
    assert.equal(status, 200);
    const lines = linesOf("tiny");
    const best = lines.filter((l) => l.type === "eval" && l.best).at(-1);
    assert.deepEqual(json.runs, [
      {
        name: "tiny",
        task: "listops",
        model: "spinn-pi",
        last_step: lines.at(-1).step,
        best_dev_accuracy: best.dev_accuracy,
        best_step: best.step,
        training: false,
        updated: lines.at(-1).time,
        error: null,
      },
    ]);
  });

  test("GET /v1/runs/NAME/metrics gives the lines as written; a torn last line is left out", async () => {
    const { status, json } = await get("/v1/runs/tiny/metrics");
    assert.equal(status, 200);
    assert.deepEqual(json, { name: "tiny", metrics: linesOf("tiny"), torn_last_line: false });
    copyRun("torn");
    writeFileSync(metricsOf("torn"), `${readFileSync(metricsOf("tiny"), "utf8")}{"type":"train","st`);
    const torn = await get("/v1/runs/torn/metrics");
    assert.deepEqual(torn.json, { name: "torn", metrics: linesOf("tiny"), torn_last_line: true });
  });

  test("lines from before timestamps are accepted", async () => {
    const old = linesOf("tiny").map(({ time, elapsed_seconds, ...rest }) => rest);
    copyRun("old", old.map((l) => `${JSON.stringify(l)}\n`).join(""));
    const { status, json } = await get("/v1/runs/old/metrics");
    assert.equal(status, 200);
    assert.deepEqual(json.metrics, old);
  });

  test("damaged metrics: 422 naming file:line and the field", async () => {
    copyRun("garbage", `garbage\n${readFileSync(metricsOf("tiny"), "utf8")}`);
    const garbage = await get("/v1/runs/garbage/metrics");
    assert.equal(garbage.status, 422);
    assert.equal(
      garbage.json.message,
      `${metricsOf("garbage")}:1: not a JSON line (the metrics file is corrupted)`,
    );
    copyRun("field", '{"type":"eval","step":3,"epoch":1,"best":true}\n');
    const field = await get("/v1/runs/field/metrics");
    assert.deepEqual(field.json, {
      statusCode: 422,
      error: "Unprocessable Entity",
      message: `${metricsOf("field")}:1: dev_accuracy: expected a finite number, got nothing`,
    });
    const listed = (await get("/v1/runs")).json.runs.find((r: { name: string }) => r.name === "field");
    assert.match(listed.error, /dev_accuracy: expected a finite number/);
  });

  test("names that are paths are refused (400), unknown runs are 404", async () => {
    // Dot segments, encoded or not, are resolved by URL parsing before routing: another path, no route.
    for (const name of ["..", ".", "%2E%2E", "%2e"])
      assert.equal((await get(`/v1/runs/${name}/metrics`)).status, 404, name);
    for (const name of ["..%2F..%2Fetc", "a%2Fb", "a%5Cb", "%00"]) {
      const { status, json } = await get(`/v1/runs/${name}/metrics`);
      assert.equal(status, 400, name);
      assert.match(json.message, /^run name: expected a directory name in the runs directory/);
    }
    for (const name of ["nope", "notes", "README"]) {
      const { status, json } = await get(`/v1/runs/${name}/metrics`);
      assert.equal(status, 404, name);
      assert.equal(json.message, `no run named "${name}"`);
    }
  });

  test("without a runs directory the runs routes say how to give one", async () => {
    const bare = Fastify();
    await bare.register(webPlugin, {});
    for (const url of ["/v1/runs", "/v1/runs/tiny/metrics"]) {
      const r = await bare.inject({ method: "GET", url });
      assert.equal(r.statusCode, 404);
      assert.match(r.json().message, /^no runs directory: start the server with --runs DIR/);
    }
    await bare.close();
  });

  test("the page, its modules and the libraries are served; nothing else", async () => {
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.match(page.r.headers["content-type"] as string, /^text\/html/);
    for (const src of page.r.body.matchAll(/(?:src|href)="(\/[^"]+)"/g)) {
      const asset = await get(src[1]!);
      assert.equal(asset.status, 200, src[1]);
    }
    for (const url of ["/app/main.js", "/app/trees.js", "/vendor/d3-hierarchy.js", "/vendor/vega-embed.js"]) {
      const r = await get(url);
      assert.equal(r.status, 200, url);
      assert.match(r.r.headers["content-type"] as string, /^text\/javascript/);
    }
    for (const url of [
      "/app/../../package.json",
      "/app/nope.js",
      "/vendor/vega.module.js",
      "/web/index.html",
    ])
      assert.equal((await get(url)).status, 404, url);
  });
});
