// The process group over 127.0.0.1: results checked against sums computed by hand, and the
// failures users meet (a port in use, a rank that never comes, a rank that dies) as one clear
// line naming the rank, within the timeout.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort, runNode, skipReason } from "./helpers.js";

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), "collective-worker.js");
const skip = skipReason() ?? false;

function startRanks(scenario: string, port: number, ranks: number[], worldSize: number, timeoutMs = 20000) {
  return startProcesses(scenario, port, ranks, worldSize, timeoutMs).map((r) => r.done);
}

function startProcesses(
  scenario: string,
  port: number,
  ranks: number[],
  worldSize: number,
  timeoutMs: number,
  env: Record<string, string> = {},
) {
  return ranks.map((rank) =>
    runNode(worker, [], {
      ...env,
      SPINN_COLLECTIVE_WORKER: scenario,
      MASTER_PORT: String(port),
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      SPINN_TIMEOUT_MS: String(timeoutMs),
    }),
  );
}

describe("process group (Gloo over 127.0.0.1)", { skip }, () => {
  test("all-reduce (sum, average, a list in place), broadcast, a differentiable sum and a barrier", async () => {
    const port = await freePort();
    const results = await Promise.all(startRanks("ops", port, [0, 1, 2], 3));
    for (const [rank, r] of results.entries()) {
      assert.equal(r.code, 0, r.stderr);
      const seen = JSON.parse(r.stdout);
      assert.equal(seen.rank, rank);
      // a = [r + 1, 10 (r + 1)] summed over r = 0, 1, 2: [6, 60]; b = [r, 2r]: [3, 6].
      assert.deepEqual(seen.sum, [6, 60, 3, 6]);
      assert.equal(seen.average, 2);
      assert.deepEqual(seen.broadcast, [5, 6]);
      assert.deepEqual(seen.summed, [6, 9]);
      // d/dx of Σ_r (r + 1) · Σ y = 1 + 2 + 3 per element.
      assert.deepEqual(seen.grad, [6, 6]);
    }
  });

  test("a port in use: one line naming rank 0 and the port", async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, "0.0.0.0", () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const [r] = await Promise.all(startRanks("ops", port, [0], 2, 3000));
      assert.equal(r!.code, 1, r!.stderr);
      const seen = JSON.parse(r!.stdout);
      assert.match(seen.error, new RegExp(`^rank 0: port ${port} is in use on this machine`));
      assert.match(seen.error, /--master-port/);
    } finally {
      blocker.close();
    }
  });

  test("a rendezvous that never completes times out, naming the rank that never joined", async () => {
    const port = await freePort();
    const [r] = await Promise.all(startRanks("ops", port, [0], 2, 1500));
    assert.equal(r!.code, 1, r!.stderr);
    const seen = JSON.parse(r!.stdout);
    assert.match(
      seen.error,
      new RegExp(`^rank 0: rendezvous at 127.0.0.1:${port} timed out after 1.5 s: rank 1 of 2 never joined`),
    );
    assert.ok(r!.seconds < 15, `took ${r!.seconds} s`);
  });

  test("a worker with no rank 0 to meet times out, naming the address", async () => {
    const port = await freePort();
    const [r] = await Promise.all(startRanks("ops", port, [1], 2, 1500));
    assert.equal(r!.code, 1, r!.stderr);
    const seen = JSON.parse(r!.stdout);
    assert.match(
      seen.error,
      new RegExp(`^rank 1: rendezvous timed out after 1.5 s: no store answered at 127.0.0.1:${port}`),
    );
  });

  test("a rank killed mid-run: the others' collective fails at once, naming it", async () => {
    const port = await freePort();
    const results = await Promise.all(startRanks("peer-dies", port, [0, 1, 2], 3, 30000));
    assert.equal(results[1]!.signal, "SIGKILL");
    for (const rank of [0, 2]) {
      const r = results[rank]!;
      assert.equal(r.code, 1, r.stderr);
      const seen = JSON.parse(r.stdout);
      assert.match(
        seen.error,
        new RegExp(`^rank ${rank}: all-reduce failed: lost rank 1 \\(its heartbeat stopped\\)`),
      );
      assert.deepEqual(seen.lost, [1]);
      // Well within the 30 s timeout: the socket closed, nobody waited for the timeout.
      assert.ok(seen.ms < 15000, `took ${seen.ms} ms`);
    }
  });

  test("SPINN_DISTRIBUTED_DEBUG=1: ranks that call different collectives get an error, not an abort", async () => {
    const port = await freePort();
    const debug = { SPINN_DISTRIBUTED_DEBUG: "1" };
    const results = await Promise.all(
      startProcesses("mismatch", port, [0, 1], 2, 20000, debug).map((r) => r.done),
    );
    for (const [rank, r] of results.entries()) {
      assert.equal(r.code, 1, r.stderr);
      const seen = JSON.parse(r.stdout);
      assert.match(
        seen.error,
        new RegExp(`^rank ${rank}: all-reduce failed: the ranks called different collectives; `),
      );
      assert.match(seen.error, /TensorShape=\[2\]/);
      assert.match(seen.error, /TensorShape=\[3\]/);
    }
  });

  test("a rank that stalls: the other's collective gives up after the timeout, naming it", async () => {
    const port = await freePort();
    const [rank0, rank1] = startProcesses("peer-stalls", port, [0, 1], 2, 3000);
    try {
      const r = await rank0!.done;
      assert.equal(r.code, 1, r.stderr);
      const seen = JSON.parse(r.stdout);
      assert.match(seen.error, /^rank 0: all-reduce failed: lost rank 1 \(its heartbeat stopped\)/);
      // The 3 s timeout, then the 2 s watch of the heartbeats: bounded, not a hang.
      assert.ok(seen.ms >= 2500 && seen.ms < 20000, `took ${seen.ms} ms`);
    } finally {
      rank1!.child.kill("SIGKILL");
      await rank1!.done;
    }
  });
});
