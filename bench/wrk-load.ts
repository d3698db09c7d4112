// Closed-loop HTTP load from wrk (Debian's `wrk`, a C load generator on epoll), for
// bench/serve.ts. The benchmark's clients share the machine's cores with the server they
// measure; node:http clients take ~200 µs of CPU per request on the 2-core development machine,
// wrk a small fraction of that (BENCHMARKS.md, "Serving"), so the server's figures depend less on
// the load generator. Each of wrk's connections sends its next request once the previous one is
// answered (no pipelining), as the node clients do.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const WRK = "wrk";

/** Whether wrk can be run here. */
export function wrkAvailable(): boolean {
  return spawnSync(WRK, ["--version"], { encoding: "utf8" }).error === undefined;
}

export interface WrkResult {
  requests: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * `connections` clients POSTing the bodies in turn to `route` on the loopback for `seconds`.
 * Throws if any request failed (a status other than 2xx/3xx, a timeout, a broken connection).
 */
export function wrkLoad(
  port: number,
  route: string,
  bodies: string[],
  connections: number,
  seconds: number,
): WrkResult {
  const dir = mkdtempSync(path.join(tmpdir(), "spinn-wrk-"));
  try {
    const script = path.join(dir, "load.lua");
    writeFileSync(script, luaScript(route, bodies));
    // --timeout: a request slower than this counts as failed; far beyond the server's own limit.
    const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "60s", "-s", script];
    const r = spawnSync(WRK, [...args, `http://127.0.0.1:${port}`], {
      encoding: "utf8",
      timeout: (seconds + 120) * 1000,
    });
    if (r.error) throw new Error(`wrk could not run: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`wrk exited with ${r.status}: ${r.stderr}`);
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    if (!line) throw new Error(`wrk printed no summary:\n${r.stdout}`);
    const s = JSON.parse(line) as {
      requests: number;
      duration_us: number;
      p50_us: number;
      p99_us: number;
      failed: number;
    };
    if (s.failed > 0) throw new Error(`${s.failed} of ${s.requests} requests failed under wrk`);
    return {
      requests: s.requests,
      seconds: s.duration_us / 1e6,
      p50Ms: s.p50_us / 1000,
      p99Ms: s.p99_us / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A wrk script: the bodies in turn, and a one-line JSON summary. */
function luaScript(route: string, bodies: string[]): string {
  // Lua's long brackets take the JSON as it is; a body that contains the closing bracket is
  // not one this benchmark makes (its items come from the shipped samples), but check.
  for (const b of bodies) if (b.includes("]==]")) throw new Error("a request body contains ]==]");
  return `local bodies = {
${bodies.map((b) => `[==[${b}]==]`).join(",\n")}
}
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, "${route}", nil, bodies[(n % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"failed":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.timeout + e.read + e.write + e.connect))
end
`;
}
