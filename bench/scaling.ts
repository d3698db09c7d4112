// `npm run bench:scaling`: how SPINN-PI's training cost scales, from `spinn bench` runs on
// synthetic random trees (each run a fresh process, so its peak memory is its own):
//   - per pair against sentence length (every sentence of a run the same length), batch 128;
//   - per pair and peak memory against batch size, SNLI-like lengths.
// Prints one JSON object: every run's figures.
//   SCALING_LENGTHS (5,10,20,40), SCALING_BATCHES (32,64,128,256,512), BENCH_STEPS (6),
//   BENCH_DEVICE (cpu)
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const list = (v: string | undefined, d: number[]) => (v ? v.split(",").map(Number) : d);
const lengths = list(process.env.SCALING_LENGTHS, [5, 10, 20, 40]);
const batches = list(process.env.SCALING_BATCHES, [32, 64, 128, 256, 512]);
const steps = String(Number(process.env.BENCH_STEPS ?? 6));
const device = process.env.BENCH_DEVICE ?? "cpu";

function bench(args: string[]): Record<string, number | string | number[]> {
  const r = spawnSync(
    process.execPath,
    [
      path.join(root, "dist/src/cli/main.js"),
      "bench",
      "--steps",
      steps,
      "--warmup",
      "1",
      "--device",
      device,
      // Batches of exactly --batch-size pairs, whatever their length: the cost against the
      // batch size and the length is what is measured here.
      "--batch-tokens",
      "0",
      ...args,
    ],
    { encoding: "utf8", maxBuffer: 1 << 24 },
  );
  if (r.status !== 0) throw new Error(`spinn bench ${args.join(" ")} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const pick = (b: Record<string, unknown>) => ({
  train_pairs_per_s: b.train_pairs_per_s,
  train_ms_per_pair: +(1000 / (b.train_pairs_per_s as number)).toFixed(3),
  eval_pairs_per_s: b.eval_pairs_per_s,
  train_gflop_per_s: b.train_gflop_per_s,
  matmul_gflop_per_s: b.matmul_gflop_per_s,
  peak_rss_mib: b.peak_rss_mib,
  live_mib: b.live_mib,
  ...(b.cuda_mib === undefined ? {} : { cuda_mib: b.cuda_mib }),
});

const byLength = lengths.map((length) => ({
  length,
  ...pick(
    bench([
      "--synthetic",
      String(Math.max(1024, 8 * 128)),
      "--length",
      String(length),
      "--eval-batches",
      "4",
    ]),
  ),
}));
const byBatch = batches.map((batchSize) => ({
  batch_size: batchSize,
  ...pick(
    bench([
      "--synthetic",
      String(Math.max(1024, 4 * batchSize)),
      "--batch-size",
      String(batchSize),
      "--eval-batches",
      "2",
    ]),
  ),
}));
process.stdout.write(
  `${JSON.stringify({ device, steps: Number(steps), by_length: byLength, by_batch: byBatch }, null, 1)}\n`,
);
