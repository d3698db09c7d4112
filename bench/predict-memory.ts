// `npm run bench:predict-memory`: does `spinn predict` run in bounded memory? Trains a small
// ListOps SPINN-PI model (`spinn demo`), then streams ListOps lines through `spinn predict` on
// stdin and reads the process's resident memory (VmRSS, /proc/<pid>/status), its JS heap and
// external memory, and the engine's live tensors and handles (bench/predict-memory-probe.ts)
// once 10,000, half and all the lines have been answered, with stdin still open. Prints one
// JSON object; the goal is RSS growth from 10,000 lines to all of them under 5%.
//   PREDICT_LINES (100000), PREDICT_BATCH (256), PREDICT_AT (more readings: "20000,30000")
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateListOps } from "../src/data/listops-generate.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const cli = path.join(root, "dist/src/cli/main.js");
const total = Number(process.env.PREDICT_LINES ?? 100_000);
const batch = process.env.PREDICT_BATCH ?? "256";
const first = Math.min(10_000, total);
const extra = (process.env.PREDICT_AT ?? "").split(",").filter(Boolean).map(Number);
const readings = [...new Set([first, Math.round(total / 2), ...extra, total])]
  .filter((n) => n >= first && n <= total)
  .sort((a, b) => a - b);
// predict answers a batch once it is full (or at the end of the input): measure after the last
// whole batch within each milestone, with the input still open.
const whole = (n: number) => Math.max(1, Math.floor(n / Number(batch))) * Number(batch);

interface Reading {
  rss_mib: number;
  heap_used_mib: number;
  external_mib: number;
  tensors: number;
  handles: number;
}

const dir = mkdtempSync(path.join(tmpdir(), "spinn-predict-memory-"));
try {
  const demo = spawnSync(
    process.execPath,
    [cli, "demo", "--train-size", "300", "--epochs", "1", "--out", dir, "--json"],
    { encoding: "utf8" },
  );
  if (demo.status !== 0) throw new Error(`spinn demo failed:\n${demo.stderr}`);

  // 10,000 distinct expressions (published-like lengths up to 40 tokens), cycled.
  const generated = generateListOps({ count: 10_000, seed: 3, maxLength: 40 });
  const expressions = generated.lines.map((l) => JSON.stringify({ sentence: l.slice(l.indexOf("\t") + 1) }));

  const child = spawn(
    process.execPath,
    [
      "--import",
      path.join(here, "predict-memory-probe.js"),
      cli,
      "predict",
      "--model-dir",
      path.join(dir, "run"),
      "--batch-size",
      batch,
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  const rssMiB = (): number => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
  };
  let stderr = "";
  const probes: ((m: Record<string, number>) => void)[] = [];
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    for (let at = stderr.indexOf("@memory "); at >= 0; at = stderr.indexOf("@memory ")) {
      const end = stderr.indexOf("\n", at);
      if (end < 0) break;
      probes.shift()?.(JSON.parse(stderr.slice(at + 8, end)));
      stderr = stderr.slice(0, at) + stderr.slice(end + 1);
    }
  });
  // One signal at a time: signals sent together may arrive as one.
  let queue: Promise<unknown> = Promise.resolve();
  const probe = () => {
    const next = queue.then(
      () =>
        new Promise<Reading>((resolve) => {
          const rss = rssMiB();
          const mib = (bytes: number) => Math.round(bytes / 104857.6) / 10;
          probes.push((m) =>
            resolve({
              rss_mib: rss,
              heap_used_mib: mib(m.heapUsed!),
              external_mib: mib(m.external!),
              tensors: m.tensors!,
              handles: m.handles!,
            }),
          );
          child.kill("SIGUSR2");
        }),
    );
    queue = next;
    return next;
  };

  const started = performance.now();
  const at: Record<number, Reading & { lines: number; seconds: number }> = {};
  let answered = 0;
  let wake: ((v: unknown) => void) | null = null;
  const finished = new Promise<void>((resolve, reject) => {
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`spinn predict: ${code}\n${stderr}`)),
    );
  });
  const milestones = new Promise<void>((resolve) => {
    const pending = [...readings];
    child.stdout.on("data", (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 10) answered++;
      wake?.(undefined);
      wake = null;
      while (pending.length > 0 && answered >= whole(pending[0]!)) {
        const label = pending.shift()!;
        const last = pending.length === 0;
        const seconds = Math.round((performance.now() - started) / 100) / 10;
        const lines = answered;
        void probe().then((m) => {
          at[label] = { ...m, lines, seconds };
          if (last) resolve();
        });
      }
    });
  });
  // Feed as a streaming client would: at most a few batches ahead of the answers (a reader far
  // ahead would measure readline's buffer of unread lines, not predict). stdin stays open until
  // the last answer has been measured.
  const ahead = 4 * Number(batch);
  for (let i = 0; i < total; i += 128) {
    while (i - answered > ahead) await new Promise((resolve) => (wake = resolve));
    let chunk = "";
    for (let k = i; k < Math.min(i + 128, total); k++) chunk += `${expressions[k % expressions.length]}\n`;
    if (!child.stdin.write(chunk)) await new Promise((resolve) => child.stdin.once("drain", resolve));
  }
  await milestones;
  child.stdin.end();
  await finished;

  const a = at[first]!;
  const b = at[total]!;
  const each = <K extends keyof Reading>(key: K, name: string) =>
    Object.fromEntries(readings.map((n) => [`${name}_at_${n}`, at[n]![key]]));
  process.stdout.write(
    `${JSON.stringify({
      lines: total,
      measured_after_lines: readings.map((n) => at[n]!.lines),
      batch_size: Number(batch),
      ...each("rss_mib", "rss_mib"),
      rss_growth_percent: Math.round((1000 * (b.rss_mib - a.rss_mib)) / a.rss_mib) / 10,
      ...each("heap_used_mib", "heap_used_mib"),
      ...each("external_mib", "external_mib"),
      ...each("tensors", "live_tensors"),
      ...each("handles", "handles"),
      lines_per_s: Math.round(b.lines / b.seconds),
    })}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
