// `npm run bench:serve-memory`: does `spinn serve` give back what a burst made it hold? Starts the
// server with `listops-pi` as its own process, sends a burst of the longest of 10,000 ListOps
// expressions generated at the published lengths (8 concurrent requests of 64), then idles, and
// prints one JSON object: the server's RSS before the burst, its peak (VmHWM), right after the
// burst and after SERVE_MEMORY_IDLE_MS of idleness (3,000; the workers release after 1 s idle),
// with the live native bytes from /metrics before, after the burst and after the idle time.
//   SERVE_MEMORY_IDLE_MS, SPINN_ALLOCATOR (passed to the server: system or mimalloc)
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateListOps } from "../src/data/listops-generate.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, "../src/cli/main.js");
const idleMs = Number(process.env.SERVE_MEMORY_IDLE_MS ?? 3000);
const port = 20_000 + Math.floor(Math.random() * 10_000);
const url = `http://127.0.0.1:${port}`;

const server = spawn(process.execPath, [cli, "serve", "--model", "listops-pi", "--port", String(port)], {
  stdio: ["ignore", "ignore", "inherit"],
});
const status = (field: string): number => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${server.pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function liveBytes(): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("spinn_native_live_bytes "));
  return Number(line?.split(" ")[1]);
}

async function predict(expressions: string[]): Promise<void> {
  const res = await fetch(`${url}/v1/predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "listops-pi", inputs: expressions.map((expression) => ({ expression })) }),
  });
  if (res.status !== 200) throw new Error(`predict answered ${res.status}: ${await res.text()}`);
}

try {
  for (let tries = 0; ; tries++) {
    if ((await fetch(`${url}/healthz`).catch(() => null))?.ok) break;
    if (tries > 300) throw new Error("the server did not start in 60 s");
    await sleep(200);
  }
  const generated = generateListOps({ count: 10_000, seed: 3 });
  const longest = generated.lines
    .map((l) => l.slice(l.indexOf("\t") + 1))
    .sort((a, b) => b.length - a.length)
    .slice(0, 512);
  await predict(["[MIN 3 5 ]"]);
  const before = { rss_mib: status("VmRSS"), live_bytes: await liveBytes() };
  await Promise.all(Array.from({ length: 8 }, (_, k) => predict(longest.slice(64 * k, 64 * k + 64))));
  const afterBurst = { rss_mib: status("VmRSS"), live_bytes: await liveBytes() };
  await sleep(idleMs);
  const afterIdle = { rss_mib: status("VmRSS"), live_bytes: await liveBytes() };
  console.log(
    JSON.stringify({
      benchmark: "serve-memory",
      allocator: process.env.SPINN_ALLOCATOR ?? "default",
      burst: { requests: 8, expressions: longest.length, longest_chars: longest[0]!.length },
      idle_ms: idleMs,
      before,
      peak_rss_mib: status("VmHWM"),
      after_burst: afterBurst,
      after_idle: afterIdle,
    }),
  );
} finally {
  server.kill("SIGTERM");
}
