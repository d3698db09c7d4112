// `spinn serve` as a real process: the line it prints, live native tensors flat under load (the
// process holds only the server's tensors), SIGTERM answering the requests in flight and exiting
// 0, and its flag and start-up errors as one line with exit code 2.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { pretrainedNames } from "../../src/models/pretrained.js";
import { get, listOpsSample, metric, post, snliSample } from "./helpers.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
}

async function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [cli, "serve", ...args, "--port", "0", "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const exit = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([once(lines, "line"), exit.then(() => [null])])) as [string | null];
  if (first === null) throw new Error(`spinn serve did not start: ${stderr}`);
  const printed = JSON.parse(first) as { url: string; host: string; port: number; models: string[] };
  assert.equal(printed.url, `http://127.0.0.1:${printed.port}`);
  assert.equal(printed.host, "127.0.0.1");
  return { child, url: printed.url, stderr: () => stderr, exit };
}

function spinn(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
}

describe("spinn serve, a real process", () => {
  test("live native tensors are the same before and after 300 mixed requests, with two workers", async () => {
    const s = await startCli(["--model", "snli-spinn", "--model", "listops-pi", "--workers", "2"]);
    try {
      const pairs = snliSample();
      const expressions = listOpsSample();
      await post(`${s.url}/v1/predict`, { inputs: pairs[0] });
      const before = await metric(s.url, "spinn_native_live_tensors");
      assert.ok(before > 0);
      for (let round = 0; round < 5; round++) {
        const requests = Array.from({ length: 60 }, (_, i) => {
          const k = round * 60 + i;
          return k % 2 === 0
            ? post(`${s.url}/v1/predict`, { inputs: pairs[k % pairs.length] })
            : post(`${s.url}/v1/predict`, {
                model: "listops-pi",
                inputs: { expression: expressions[k % 200]! },
              });
        });
        for (const r of await Promise.all(requests)) assert.equal(r.status, 200);
      }
      await post(`${s.url}/v1/parse`, { sentences: pairs.slice(0, 50).map((p) => p.premise) });
      await post(`${s.url}/v1/predict`, { model: "listops-pi", inputs: { expression: "[MAX 1" } });
      assert.equal(await metric(s.url, "spinn_native_live_tensors"), before);
    } finally {
      s.child.kill("SIGTERM");
      await s.exit;
    }
  });

  test("--no-rolling: every model's items are gathered into batches", async () => {
    const s = await startCli(["--model", "listops-pi", "--no-rolling", "--workers", "1"]);
    try {
      const models = (await get(`${s.url}/v1/models`)).body.models as { rolling: boolean }[];
      assert.deepEqual(
        models.map((m) => m.rolling),
        [false],
      );
      const inputs = listOpsSample()
        .slice(0, 5)
        .map((expression) => ({ expression }));
      assert.equal((await post(`${s.url}/v1/predict`, { model: "listops-pi", inputs })).status, 200);
      // One gathered batch of the request's five items (a rolling batch observes once per request).
      assert.equal(await metric(s.url, 'spinn_batch_size_sum{model="listops-pi"}'), 5);
      assert.equal(await metric(s.url, 'spinn_batch_size_count{model="listops-pi"}'), 1);
    } finally {
      s.child.kill("SIGTERM");
      await s.exit;
    }
  });

  test("SIGTERM: the request in flight is answered in full, then the process exits 0", async () => {
    const s = await startCli(["--model", "listops-pi", "--max-batch", "16"]);
    const sample = listOpsSample();
    const inputs = Array.from({ length: 600 }, (_, i) => ({ expression: sample[i % sample.length]! }));
    const inFlight = post(`${s.url}/v1/predict`, { inputs });
    while ((await metric(s.url, "spinn_queue_depth")) === 0) await new Promise((r) => setTimeout(r, 2));
    s.child.kill("SIGTERM");
    const answer = await inFlight;
    assert.equal(answer.status, 200);
    assert.equal((answer.body.predictions as unknown[]).length, 600);
    const [code, signal] = await s.exit;
    assert.deepEqual([code, signal], [0, null]);
    assert.match(s.stderr(), /spinn serve: SIGTERM: answering the requests in flight, then stopping/);
    await assert.rejects(fetch(`${s.url}/healthz`));
  });
});

describe("spinn serve, errors", () => {
  const shipped = pretrainedNames().join(", ");
  const cases: [string, string[], string][] = [
    [
      "an unknown model",
      ["--model", "no-such-model"],
      `spinn: --model no-such-model: no such model directory, nor a shipped model (shipped: ${shipped})`,
    ],
    [
      "a port out of range",
      ["--model", "listops-pi", "--port", "70000"],
      'spinn: --port must be an integer in [0, 65535], got "70000"',
    ],
    [
      "a batch of 0",
      ["--model", "listops-pi", "--max-batch", "0"],
      'spinn: --max-batch must be an integer >= 1, got "0"',
    ],
    [
      "no workers",
      ["--model", "listops-pi", "--workers", "0"],
      'spinn: --workers must be an integer in [1, 64], got "0"',
    ],
    [
      "no model",
      ["--port", "0"],
      "spinn: required option '--model <dir-or-name>' not specified (see --help)",
    ],
    [
      "the same model twice",
      ["--model", "listops-pi", "--model", "listops-pi"],
      'spinn: --model: two models named "listops-pi" (each model is served under its name)',
    ],
  ];
  for (const [what, args, message] of cases) {
    test(`${what}: one line, exit code 2`, () => {
      const r = spinn(["serve", ...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `${message}\n`);
      assert.equal(r.stdout, "");
    });
  }

  test("a port in use: one line, exit code 2", async () => {
    const taken = createServer();
    taken.listen(0, "127.0.0.1");
    await once(taken, "listening");
    const port = (taken.address() as { port: number }).port;
    try {
      const r = spinn(["serve", "--model", "listops-pi", "--port", String(port)]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `spinn: --port ${port}: 127.0.0.1:${port} is already in use (EADDRINUSE)\n`);
    } finally {
      taken.close();
    }
  });
});
