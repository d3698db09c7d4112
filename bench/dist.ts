// `npm run bench:dist`: data-parallel training on this machine. SPINN-PI at the PyTorch
// reference's sizes (300-d, tracker 64, MLP 2 × 1024) on synthetic SNLI-like pairs, global batch
// 128, trained by 1 process and by 2 (one BLAS thread each, over 127.0.0.1), with:
//   - pairs/s of each, and the ratio;
//   - per step of the 2-process run: the gradient all-reduce's time as the step saw it (which
//     includes waiting for the slower rank) and alone (after a barrier, the communication itself),
//     and the bytes each rank sends into it (the parameters' gradients).
// Prints one JSON object. BENCH_STEPS (6 timed steps, after 2 warm-up steps), BENCH_BATCH (128).
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { syntheticPairs } from "../src/benchmark/bench.js";
import { trainingBatches } from "../src/data/batching.js";
import { Rng } from "../src/data/rng.js";
import { Vocabulary } from "../src/data/vocabulary.js";
import { Adam, manualSeed, ProcessGroup, runtimeInfo } from "../src/engine/index.js";
import { defaultConfig, Model } from "../src/models/model.js";
import { batchFor, lengthKeys, type TaskData } from "../src/tasks/task.js";
import { DataParallel } from "../src/training/data-parallel.js";
import { Objective } from "../src/training/objective.js";
import { TRAIN_DEFAULTS } from "../src/training/options.js";
import { trainStep } from "../src/training/step.js";

const steps = Number(process.env.BENCH_STEPS ?? 6);
const batchSize = Number(process.env.BENCH_BATCH ?? 128);
const warmup = 2;

interface WorkerResult {
  processes: number;
  pairs_per_s: number;
  step_ms: number;
  parameters: number;
  gradient_bytes_per_step: number;
  buckets: number;
  allreduce_ms_per_step_in_step?: number;
  allreduce_ms_alone?: number;
}

/** One rank: the timed steps, and (in a group) the all-reduce timed inside them and alone. */
function worker(group: ProcessGroup | null): WorkerResult {
  manualSeed(1);
  const examples = syntheticPairs(batchSize * (warmup + steps), 20000, 1);
  const data: TaskData = {
    task: "nli",
    file: "<synthetic>",
    examples,
    skipped: { noGoldLabel: 0, invalid: 0 },
  };
  const vocab = Vocabulary.build(examples.flatMap((e) => [e.premise.tokens, e.hypothesis.tokens]));
  const model = new Model(defaultConfig("nli", "spinn-pi", vocab.size));
  const optimizer = new Adam(model.store.trainable(), { lr: 1e-3 });
  const objective = new Objective(TRAIN_DEFAULTS);
  const parallel = group ? new DataParallel(group, model) : null;
  let reduceMs = 0;
  if (parallel) {
    const buckets = parallel.buckets;
    const reduce = buckets.allReduce.bind(buckets);
    buckets.allReduce = () => {
      const t = performance.now();
      reduce();
      reduceMs += performance.now() - t;
    };
  }
  const plans = trainingBatches(lengthKeys(data), { batchSize, rng: new Rng(1) });
  let started = 0;
  plans.forEach((plan, k) => {
    if (k === warmup) {
      group?.barrier();
      started = performance.now();
      reduceMs = 0;
    }
    const { batch, part } = parallel
      ? parallel.part(data, plan, vocab)
      : { batch: batchFor(data, plan, vocab), part: null };
    trainStep(model, optimizer, objective, batch, TRAIN_DEFAULTS.clip, part);
  });
  const seconds = (performance.now() - started) / 1000;
  const timed = plans.length - warmup;
  const pairs = plans.slice(warmup).reduce((n, p) => n + p.indices.length, 0);
  const result: WorkerResult = {
    processes: group?.worldSize ?? 1,
    pairs_per_s: +(pairs / seconds).toFixed(1),
    step_ms: +((1000 * seconds) / timed).toFixed(1),
    parameters: model.store.countTrainable(),
    gradient_bytes_per_step: parallel?.buckets.bytes ?? 0,
    buckets: parallel?.buckets.buckets.length ?? 0,
  };
  if (parallel && group) {
    result.allreduce_ms_per_step_in_step = +(reduceMs / timed).toFixed(2);
    // The communication alone: both ranks arrive together, the gradients are the last step's.
    const rounds = 10;
    group.barrier();
    const t = performance.now();
    for (let r = 0; r < rounds; r++) parallel.buckets.allReduce();
    result.allreduce_ms_alone = +((performance.now() - t) / rounds).toFixed(2);
  }
  optimizer.dispose();
  model.dispose();
  return result;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs `world` worker processes and returns rank 0's result. */
async function run(world: number): Promise<WorkerResult> {
  const port = await freePort();
  const ranks = Array.from({ length: world }, (_, rank) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      env: {
        ...process.env,
        BENCH_DIST_WORKER: "1",
        SPINN_BLAS_THREADS: "1",
        WORLD_SIZE: String(world),
        RANK: String(rank),
        MASTER_PORT: String(port),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    return new Promise<string>((resolve, reject) =>
      child.on("close", (code) =>
        code === 0 ? resolve(out) : reject(new Error(`rank ${rank} exited with ${code}`)),
      ),
    );
  });
  const outputs = await Promise.all(ranks);
  return JSON.parse(outputs[0]!) as WorkerResult;
}

if (process.env.BENCH_DIST_WORKER) {
  const world = Number(process.env.WORLD_SIZE);
  const group =
    world > 1
      ? ProcessGroup.join({
          host: "127.0.0.1",
          port: Number(process.env.MASTER_PORT),
          rank: Number(process.env.RANK),
          worldSize: world,
          timeoutMs: 120000,
        })
      : null;
  const result = worker(group);
  group?.destroy();
  if ((group?.rank ?? 0) === 0) console.log(JSON.stringify(result));
} else {
  const one = await run(1);
  const two = await run(2);
  const info = runtimeInfo();
  console.log(
    JSON.stringify({
      bench: "dist",
      model: "spinn-pi",
      config: "300-d, tracker 64, MLP 2 x 1024, synthetic SNLI-like pairs",
      global_batch: batchSize,
      timed_steps: steps,
      parameters: one.parameters,
      one_process: one,
      two_processes: two,
      speedup_2_vs_1: +(two.pairs_per_s / one.pairs_per_s).toFixed(3),
      versions: {
        node: process.version,
        torch: info.torchVersion,
        cores: availableParallelism(),
        backend: "gloo",
      },
    }),
  );
}
