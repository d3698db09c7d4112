// `npm run bench:engine`: the engine's per-call cost, matmul throughput, a small
// forward+backward and a TreeLSTM cell inside a state memory at evaluation, measured beside
// PyTorch (Debian's python3-torch, same thread count) in alternating rounds of the same run.
// Prints one JSON object; medians over the rounds.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { manualSeed, noGrad, ones, randn, runtimeInfo, StateMemory, scope } from "../src/engine/index.js";

type Figures = Record<string, number>;

function timed(fn: () => void, reps: number, warmup = 3): number {
  for (let i = 0; i < warmup; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e9 / reps;
}

function measureEngine(): Figures {
  manualSeed(0);
  const out: Figures = {};
  const one = ones([1]);
  // One op through the whole TS → Node-API → libtorch path, result freed by its scope.
  out.op_call_us = timed(() => scope(() => one.neg()), 100_000, 1000) * 1e6;
  for (const [m, k, n] of [
    [128, 300, 1500],
    [256, 900, 256],
  ] as const) {
    const a = randn([m, k]);
    const b = randn([k, n]);
    const s = timed(() => scope(() => a.mm(b)), 200, 20);
    out[`matmul_${m}x${k}x${n}_gflops`] = (2 * m * k * n) / s / 1e9;
    a.dispose();
    b.dispose();
  }
  const x = randn([128, 300]);
  const w = randn([300, 1500]).setRequiresGrad();
  out.tanh_matmul_fwd_bwd_ms =
    timed(
      () =>
        scope(() => {
          w.zeroGrad();
          x.matmul(w).tanh().sum().backward();
        }),
      100,
      10,
    ) * 1e3;
  // A TreeLSTM composition at evaluation inside a state memory (a rolling batch's step: 24
  // REDUCEs of H 128): the children's cells read from its rows, [h | c] written to new rows.
  // PyTorch runs the same maths as the ops a PyTorch SPINN writes (engine_torch.py).
  noGrad(() =>
    scope(() => {
      const [R, H, rows] = [24, 128, 2048];
      const memory = new StateMemory(rows, 2 * H);
      memory.write(
        Int32Array.from({ length: rows }, (_, k) => k),
        randn([rows, 2 * H]),
      );
      const gates = randn([R, 5 * H]);
      const pick = (offset: number) => Int32Array.from({ length: R }, (_, k) => offset + 37 * k);
      const [left, right, written] = [pick(1), pick(2), pick(3)];
      out.tree_cell_in_memory_us =
        timed(() => memory.writeTreeLstmCell(written, gates, left, right), 20_000, 200) * 1e6;
    }),
  );
  one.dispose();
  x.dispose();
  w.dispose();
  return out;
}

function measureTorch(threads: number): Figures | { error: string } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../bench/engine_torch.py");
  const r = spawnSync("/usr/bin/python3", [script, String(threads)], { encoding: "utf8" });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || "failed").trim().split("\n").pop()! };
  return JSON.parse(r.stdout);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const info = runtimeInfo();
const ours: Figures[] = [];
const theirs: Figures[] = [];
let torchError: string | undefined;
for (let r = 0; r < rounds; r++) {
  ours.push(measureEngine());
  const t = measureTorch(info.threads);
  if ("error" in t) torchError = String(t.error);
  else theirs.push(t);
}
const keys = Object.keys(ours[0]!);
const engine = Object.fromEntries(keys.map((k) => [k, +median(ours.map((o) => o[k]!)).toFixed(3)]));
const pytorch = theirs.length
  ? Object.fromEntries(keys.map((k) => [k, +median(theirs.map((o) => o[k]!)).toFixed(3)]))
  : null;
// ratio > 1 means the engine is better (higher throughput, or lower time).
const ratios = pytorch
  ? Object.fromEntries(
      keys.map((k) => [
        k,
        +(k.endsWith("gflops") ? engine[k]! / pytorch[k]! : pytorch[k]! / engine[k]!).toFixed(3),
      ]),
    )
  : null;
console.log(
  JSON.stringify({
    bench: "engine",
    date: new Date().toISOString(),
    torch: info.torchVersion,
    threads: info.threads,
    rounds,
    engine,
    pytorch,
    engine_vs_pytorch: ratios,
    ...(torchError ? { pytorch_error: torchError } : {}),
  }),
);
