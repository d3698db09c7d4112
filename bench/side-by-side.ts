// `npm run bench:spinn`: `spinn bench` and the PyTorch reference (../shared/bench/spinn_torch.py,
// its seed and thin designs, Debian's python3-torch) run alternately in one session with the same
// configuration, several rounds; prints every run and the median ratios as one JSON object.
//   BENCH_ROUNDS (3), BENCH_STEPS (10), BENCH_BATCH (128), BENCH_DATA (the SNLI train subset),
//   BENCH_DEVICE (cpu)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeInfo } from "../src/engine/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const shared = path.resolve(root, "../shared");
const reference = path.join(shared, "bench/spinn_torch.py");
const data = process.env.BENCH_DATA ?? path.join(shared, "data/snli/snli_1.0_train_subset.jsonl");
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const steps = Number(process.env.BENCH_STEPS ?? 10);
const batch = Number(process.env.BENCH_BATCH ?? 128);
const device = process.env.BENCH_DEVICE ?? "cpu";
const python = process.env.PYTHON ?? "/usr/bin/python3";

if (!existsSync(reference)) throw new Error(`the PyTorch reference is missing: ${reference}`);
if (!existsSync(data)) throw new Error(`benchmark data is missing: ${data} (set BENCH_DATA)`);

function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line);
}

function run(cmd: string, args: string[]): Record<string, unknown> {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return lastJsonLine(r.stdout);
}

const threads = runtimeInfo().threads;
const common = [
  "--batch",
  String(batch),
  "--steps",
  String(steps),
  "--warmup",
  "2",
  "--threads",
  String(threads),
  "--device",
  device,
];
const runs: { ours: number[]; seed: number[]; thin: number[]; oursEval: number[] } = {
  ours: [],
  seed: [],
  thin: [],
  oursEval: [],
};
const samples: Record<string, unknown>[] = [];
for (let r = 0; r < rounds; r++) {
  const ours = run(process.execPath, [
    path.join(root, "dist/src/cli/main.js"),
    "bench",
    "--data",
    data,
    "--batch-size",
    String(batch),
    // The reference's batches: batch-size pairs whatever their length, the same work.
    "--batch-tokens",
    "0",
    "--steps",
    String(steps),
    "--device",
    device,
  ]);
  const seed = run(python, [reference, "--data", data, "--impl", "seed", ...common]);
  const thin = run(python, [reference, "--data", data, "--impl", "thin", ...common]);
  runs.ours.push(ours.train_pairs_per_s as number);
  runs.oursEval.push(ours.eval_pairs_per_s as number);
  runs.seed.push(seed.train_pairs_per_s as number);
  runs.thin.push(thin.train_pairs_per_s as number);
  samples.push({ round: r + 1, ours, seed, thin });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ratios = (a: number[], b: number[]) => a.map((x, i) => x / b[i]!);
console.log(
  JSON.stringify({
    bench: "spinn side by side",
    date: new Date().toISOString(),
    device,
    data,
    batch,
    steps,
    rounds,
    intra_op_threads: threads,
    median_train_pairs_per_s: {
      ours: median(runs.ours),
      pytorch_seed: median(runs.seed),
      pytorch_thin: median(runs.thin),
    },
    median_eval_pairs_per_s_ours: median(runs.oursEval),
    // Ratios are taken within each round (the runs of a round are back to back), then the median.
    median_ratio_vs_seed: +median(ratios(runs.ours, runs.seed)).toFixed(2),
    median_ratio_vs_thin: +median(ratios(runs.ours, runs.thin)).toFixed(2),
    samples,
  }),
);
