// `spinn train --nproc` end to end over 127.0.0.1: a killed worker stops the run with one line
// naming it and the checkpoint, and --resume (with 2 workers, or with 1) finishes with the
// weights of a run never interrupted; the errors of a port in use and of a rendezvous that never
// completes; the standard variables (WORLD_SIZE, RANK, MASTER_PORT) start a worker by hand.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { generateListOps, loadSafetensors } from "../../src/index.js";
import { freePort, skipReason } from "./helpers.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-dist-cli-"));
const skip = skipReason() ?? false;
const data = path.join(dir, "listops.tsv");
writeFileSync(data, `${generateListOps({ count: 120, seed: 4, maxLength: 10 }).lines.join("\n")}\n`);

function spinn(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
}

/** Several `spinn` commands at once (the nodes of a run, or workers started by hand). */
function spinnTogether(runs: { args: string[]; env?: Record<string, string> }[]) {
  return Promise.all(
    runs.map(
      ({ args, env }) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env } });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (d) => {
            stdout += d;
          });
          child.stderr.on("data", (d) => {
            stderr += d;
          });
          child.on("close", (status) => resolve({ status, stdout, stderr }));
        }),
    ),
  );
}

const trainArgs = (out: string) => [
  "train",
  ...["--task", "listops", "--train", data, "--dev", data, "--model", "spinn-pi", "--out", out],
  ...["--epochs", "2", "--batch-size", "16", "--eval-every", "3", "--dtype", "float64", "--json"],
  ...["--d-embed", "8", "--d-hidden", "8", "--d-tracker", "4", "--d-mlp", "8", "--n-mlp", "1"],
  ...["--optimizer", "sgd", "--lr", "0.2", "--dist-timeout", "20"],
];

function weights(out: string): Map<string, Float64Array> {
  const loaded = loadSafetensors(path.join(out, "last", "model.safetensors"));
  return new Map([...loaded.tensors].map(([k, t]) => [k, t.toFloat64Array()]));
}

function maxDifference(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  return worst;
}

/** The stderr lines that are errors (not progress logs). */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("spinn: "));

describe("spinn train --nproc (127.0.0.1)", { skip }, () => {
  test("a killed worker: one line naming it and the checkpoint; --resume finishes the run exactly", () => {
    const reference = path.join(dir, "reference");
    const whole = spinn([...trainArgs(reference), "--nproc", "2"]);
    assert.equal(whole.status, 0, whole.stderr);
    assert.equal(JSON.parse(whole.stdout).steps, 16);

    const broken = path.join(dir, "broken");
    const killed = spinn([...trainArgs(broken), "--nproc", "2"], { SPINN_TEST_CRASH_AT: "step-rank1:8" });
    assert.equal(killed.status, 5, killed.stderr);
    assert.equal(killed.stdout, "");
    const lines = errorLines(killed.stderr);
    assert.equal(lines.length, 1, killed.stderr);
    assert.match(
      lines[0]!,
      /^spinn: rank 0: all-reduce failed: lost rank 1 \(its heartbeat stopped\); .*; the last checkpoint is step 6 in .*broken\/last \(continue with --resume\)$/,
    );
    const again = path.join(dir, "broken-alone");
    cpSync(broken, again, { recursive: true });

    const logs = path.join(dir, "logs");
    const resumed = spinn([
      "train",
      "--out",
      broken,
      "--resume",
      "--nproc",
      "2",
      "--json",
      "--log-dir",
      logs,
    ]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(JSON.parse(resumed.stdout).steps, 16);
    // Rank 0 speaks on the terminal, the others in their logs.
    assert.match(readFileSync(path.join(logs, "rank-1.log"), "utf8"), /resuming .* at step 6/);
    assert.ok(maxDifference(weights(reference), weights(broken)) <= 1e-12);

    // The global batch does not depend on the number of workers, so one process may finish it.
    const alone = spinn(["train", "--out", again, "--resume", "--json"]);
    assert.equal(alone.status, 0, alone.stderr);
    assert.ok(maxDifference(weights(reference), weights(again)) <= 1e-9);
  });

  test("rank 0 killed: the survivor's line names it (its store is gone) and the checkpoint", () => {
    const out = path.join(dir, "rank0-killed");
    const killed = spinn([...trainArgs(out), "--nproc", "2"], { SPINN_TEST_CRASH_AT: "step-rank0:8" });
    assert.equal(killed.status, 5, killed.stderr);
    const lines = errorLines(killed.stderr);
    assert.equal(lines.length, 1, killed.stderr);
    assert.match(
      lines[0]!,
      /^spinn: rank 1: all-reduce failed: lost rank 0 \(the rendezvous store it hosts at 127\.0\.0\.1:\d+ stopped answering\); .*the last checkpoint is step 6 in .*rank0-killed\/last \(continue with --resume\)$/,
    );
  });

  test("two nodes (--nnodes 2, one worker each, on 127.0.0.1) train the run of two local workers", async () => {
    const reference = path.join(dir, "nodes-reference");
    assert.equal(spinn([...trainArgs(reference), "--nproc", "2"]).status, 0);
    const out = path.join(dir, "nodes");
    const port = String(await freePort());
    const node = (rank: number) => [
      ...trainArgs(out),
      "--nproc",
      "1",
      "--nnodes",
      "2",
      "--node-rank",
      String(rank),
    ];
    const master = ["--master-addr", "127.0.0.1", "--master-port", port];
    const [n0, n1] = await spinnTogether([
      { args: [...node(0), ...master] },
      { args: [...node(1), ...master] },
    ]);
    assert.equal(n0!.status, 0, n0!.stderr);
    assert.equal(n1!.status, 0, n1!.stderr);
    assert.equal(JSON.parse(n0!.stdout).steps, 16);
    assert.equal(n1!.stdout, "");
    assert.ok(maxDifference(weights(reference), weights(out)) <= 1e-12);
  });

  test("workers that read different data: the same one line on every rank", async () => {
    const smaller = path.join(dir, "smaller.tsv");
    writeFileSync(smaller, `${generateListOps({ count: 100, seed: 4, maxLength: 10 }).lines.join("\n")}\n`);
    const port = String(await freePort());
    const env = (rank: number) => ({ WORLD_SIZE: "2", RANK: String(rank), MASTER_PORT: port });
    const args = trainArgs(path.join(dir, "mismatch"));
    const [r0, r1] = await spinnTogether([
      { args, env: env(0) },
      { args: args.map((a) => (a === data ? smaller : a)), env: env(1) },
    ]);
    assert.equal(r0!.status, 5, r0!.stderr);
    assert.equal(r1!.status, 5, r1!.stderr);
    assert.deepEqual(errorLines(r0!.stderr), [
      "spinn: the workers read different runs: training examples differs between ranks (rank 0 has 120); every worker needs the same data files and options",
    ]);
    assert.match(errorLines(r1!.stderr)[0]!, /training examples differs between ranks \(rank 1 has 100\)/);
  });

  test("a port in use: one line naming it, exit code 5", async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, "0.0.0.0", () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const out = path.join(dir, "port");
      const r = spinn([
        ...trainArgs(out),
        "--nproc",
        "2",
        "--master-port",
        String(port),
        "--dist-timeout",
        "3",
      ]);
      assert.equal(r.status, 5, r.stderr);
      assert.deepEqual(errorLines(r.stderr), [
        `spinn: rank 0: port ${port} is in use on this machine, so the rendezvous store cannot listen there (choose another with --master-port or MASTER_PORT)`,
      ]);
    } finally {
      blocker.close();
    }
  });

  test("a worker started by hand (WORLD_SIZE, RANK, MASTER_PORT) whose peer never comes times out", async () => {
    const port = await freePort();
    const out = path.join(dir, "alone");
    const r = spinn([...trainArgs(out), "--dist-timeout", "2"], {
      WORLD_SIZE: "2",
      RANK: "0",
      MASTER_PORT: String(port),
    });
    assert.equal(r.status, 5, r.stderr);
    assert.deepEqual(errorLines(r.stderr), [
      `spinn: rank 0: rendezvous at 127.0.0.1:${port} timed out after 2 s: rank 1 of 2 never joined`,
    ]);
  });

  test("bad launch flags are one line and exit code 2", () => {
    const r = spinn([...trainArgs(path.join(dir, "flags")), "--nproc", "0"]);
    assert.equal(r.status, 2);
    assert.deepEqual(errorLines(r.stderr), ['spinn: --nproc must be an integer >= 1, got "0"']);
    const nodes = spinn([...trainArgs(path.join(dir, "flags")), "--nproc", "2", "--nnodes", "2"]);
    assert.equal(nodes.status, 2);
    assert.match(errorLines(nodes.stderr)[0]!, /^spinn: --nnodes > 1 needs --master-port/);
  });
});
