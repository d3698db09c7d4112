// One rank of the collectives tests (10-collectives.test.ts starts it with SPINN_COLLECTIVE_WORKER
// set; run as a test file by node --test, it does nothing). Prints one JSON line: what it saw.
import { DistributedError, ProcessGroup, tensor } from "../../src/engine/index.js";

function main(scenario: string, port: number, rank: number, worldSize: number, timeoutMs: number): void {
  let group: ProcessGroup | null = null;
  try {
    group = ProcessGroup.join({ host: "127.0.0.1", port, rank, worldSize, timeoutMs });
    if (scenario === "ops") ops(group);
    if (scenario === "peer-dies") peerDies(group, "SIGKILL");
    if (scenario === "peer-stalls") peerDies(group, "SIGSTOP");
    // Ranks out of step (a bug): rank 0 sums 2 numbers, the others 3.
    if (scenario === "mismatch") group.allReduce([tensor(group.rank === 0 ? [1, 2] : [1, 2, 3])]);
    group.destroy();
  } catch (err) {
    if (!(err instanceof DistributedError)) throw err;
    console.log(JSON.stringify({ rank, error: err.message, lost: err.lostRanks }));
    process.exit(1);
  }
}

function ops(group: ProcessGroup): void {
  const r = group.rank;
  const a = tensor([r + 1, 10 * (r + 1)], { dtype: "float64" });
  const b = tensor([[r], [2 * r]], { dtype: "float64" });
  group.allReduce([a, b]);
  const avg = tensor([r + 1], { dtype: "float64" });
  group.allReduce([avg], { average: true });
  const c = tensor([r + 5, r + 6], { dtype: "float64" });
  group.broadcast([c], 0);
  // y = Σ_ranks x; loss_r = (r + 1) · Σ y: each rank's x gets Σ_r (r + 1) as its gradient.
  const x = tensor([r + 1, r + 2], { dtype: "float64", requiresGrad: true });
  const y = group.allReduceSum(x);
  y.sum()
    .mul(r + 1)
    .backward();
  group.barrier();
  console.log(
    JSON.stringify({
      rank: r,
      sum: [...a.toFloat64Array(), ...b.toFloat64Array()],
      average: avg.item(),
      broadcast: [...c.toFloat64Array()],
      summed: [...y.toFloat64Array()],
      grad: [...x.grad!.toFloat64Array()],
    }),
  );
}

// Rank 1 leaves without a word (SIGKILL, as a crashed machine would), or stalls (SIGSTOP, as a
// hung one would); the others' next collective must fail (at once, or after the timeout) and
// name it.
function peerDies(group: ProcessGroup, signal: NodeJS.Signals): void {
  group.barrier();
  if (group.rank === 1) process.kill(process.pid, signal);
  const started = Date.now();
  try {
    group.allReduce([tensor([1], { dtype: "float64" })]);
  } catch (err) {
    if (err instanceof DistributedError)
      console.log(
        JSON.stringify({
          rank: group.rank,
          error: err.message,
          lost: err.lostRanks,
          ms: Date.now() - started,
        }),
      );
    process.exit(1);
  }
}

const env = process.env;
if (env.SPINN_COLLECTIVE_WORKER) {
  main(
    env.SPINN_COLLECTIVE_WORKER,
    Number(env.MASTER_PORT),
    Number(env.RANK),
    Number(env.WORLD_SIZE),
    Number(env.SPINN_TIMEOUT_MS ?? 20000),
  );
}
