// Shared by the distributed tests: free loopback ports, spawning workers, skipping without Gloo.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { distributedAvailability } from "../../src/engine/index.js";

/** Why the distributed tests cannot run here, or null when they can. */
export function skipReason(): string | null {
  const availability = distributedAvailability();
  return availability.available ? null : `skipped: ${availability.reason}`;
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Seconds from spawn to exit. */
  seconds: number;
}

/** Runs `node script args` with extra environment variables; resolves when it exits. */
export function runNode(
  script: string,
  args: string[],
  env: Record<string, string>,
): {
  child: ChildProcess;
  done: Promise<Finished>;
} {
  const started = Date.now();
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, SPINN_BLAS_THREADS: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => {
    stdout += d;
  });
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<Finished>((resolve) => {
    child.on("close", (code, signal) =>
      resolve({ code, signal, stdout, stderr, seconds: (Date.now() - started) / 1000 }),
    );
  });
  return { child, done };
}
