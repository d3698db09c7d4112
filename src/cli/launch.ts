// Starting data-parallel workers the way torchrun does: `spinn train --nproc N` starts N local
// worker processes of the same command, each told its place by the standard variables
// (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK), which a cluster scheduler may also set
// itself. Rank 0 keeps the terminal (progress bar, summary); the others' output goes to
// --log-dir/rank-N.log when asked, and their last line is kept for the one error line a failed
// run ends with.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { Option } from "commander";
import { makeDirectory } from "../util/make-directory.js";
import { UserError } from "./errors.js";
import { hostOption, intOption } from "./flags.js";

/** Where this process sits in a data-parallel run, from the standard variables (null: alone). */
export interface WorkerPlace {
  host: string;
  port: number;
  rank: number;
  worldSize: number;
  localRank: number;
}

export interface LaunchPlan {
  nproc: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  /** Null: a free port of this machine (one node only). */
  masterPort: number | null;
  timeoutSeconds: number;
  logDir: string | null;
}

/** The run's place from MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK and LOCAL_RANK, or null without WORLD_SIZE. */
export function workerPlace(env: NodeJS.ProcessEnv = process.env): WorkerPlace | null {
  if (env.WORLD_SIZE === undefined) return null;
  const int = (name: string, min: number, fallback?: string): number => {
    const value = env[name] ?? fallback;
    if (value === undefined)
      throw new UserError(`${name} is not set (WORLD_SIZE is: a data-parallel worker needs both)`);
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min)
      throw new UserError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
  const worldSize = int("WORLD_SIZE", 1);
  const rank = int("RANK", 0);
  if (rank >= worldSize) throw new UserError(`RANK ${rank} is not below WORLD_SIZE ${worldSize}`);
  return {
    host: env.MASTER_ADDR ?? "127.0.0.1",
    port: int("MASTER_PORT", 1, "29500"),
    rank,
    worldSize,
    localRank: int("LOCAL_RANK", 0, "0"),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

interface Worker {
  rank: number;
  child: ChildProcess;
  lastLine: string;
  log: WriteStream | null;
}

/**
 * Runs this node's workers to their end and returns the exit code to leave with: 0 when all
 * succeeded, else the first failure's. When a worker fails, the others get the collective
 * timeout (and 10 s more) to stop by themselves before they are killed.
 */
export async function launch(plan: LaunchPlan, argv: readonly string[]): Promise<number> {
  const port = plan.masterPort ?? (await freePort());
  const worldSize = plan.nproc * plan.nnodes;
  if (plan.logDir) makeDirectory(plan.logDir);
  const workers: Worker[] = [];
  for (let local = 0; local < plan.nproc; local++) {
    const rank = plan.nodeRank * plan.nproc + local;
    const env = {
      ...process.env,
      MASTER_ADDR: plan.masterAddr,
      MASTER_PORT: String(port),
      WORLD_SIZE: String(worldSize),
      RANK: String(rank),
      LOCAL_RANK: String(local),
      SPINN_DIST_TIMEOUT: String(plan.timeoutSeconds),
      // One BLAS thread per worker unless told otherwise: N workers share the machine's cores.
      SPINN_BLAS_THREADS: process.env.SPINN_BLAS_THREADS ?? "1",
    };
    const child = spawn(process.execPath, [...process.execArgv, ...argv], {
      env,
      stdio: rank === 0 ? "inherit" : ["ignore", "ignore", "pipe"],
    });
    const log = plan.logDir ? createWriteStream(path.join(plan.logDir, `rank-${rank}.log`)) : null;
    const worker: Worker = { rank, child, lastLine: "", log };
    child.stderr?.on("data", (chunk: Buffer) => {
      log?.write(chunk);
      const lines = chunk
        .toString("utf8")
        .split("\n")
        .filter((l) => l.trim() !== "");
      if (lines.length > 0) worker.lastLine = lines[lines.length - 1]!;
    });
    workers.push(worker);
  }
  // Ctrl-C reaches every worker from the terminal; a SIGTERM sent to this process alone is passed on.
  const forward = (signal: NodeJS.Signals) => () => {
    for (const w of workers) w.child.kill(signal);
  };
  const onInt = () => {};
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    return await waitAll(workers, plan.timeoutSeconds);
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    for (const w of workers) w.log?.end();
  }
}

function waitAll(workers: Worker[], timeoutSeconds: number): Promise<number> {
  return new Promise((resolve) => {
    let running = workers.length;
    let firstFailure: { worker: Worker; code: number | null; signal: NodeJS.Signals | null } | null = null;
    let killer: NodeJS.Timeout | null = null;
    for (const worker of workers) {
      worker.child.on("close", (code, signal) => {
        running--;
        if ((code !== 0 || signal) && !firstFailure) {
          firstFailure = { worker, code, signal };
          killer = setTimeout(
            () => {
              for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
            },
            (timeoutSeconds + 10) * 1000,
          );
        }
        if (running > 0) return;
        if (killer) clearTimeout(killer);
        resolve(exitCode(workers, firstFailure));
      });
    }
  });
}

// Rank 0's stderr is the terminal: its own error line is already there. Otherwise the line
// comes from the first rank that said why it stopped.
function exitCode(
  workers: Worker[],
  failure: { worker: Worker; code: number | null; signal: NodeJS.Signals | null } | null,
): number {
  if (!failure) return 0;
  const rank0 = workers[0]!;
  const rank0Said = rank0.rank === 0 && rank0.child.exitCode !== null && rank0.child.exitCode !== 0;
  if (rank0Said) return rank0.child.exitCode!;
  const explained = workers.find((w) => w.rank !== 0 && w.lastLine.startsWith("spinn: "));
  if (explained) {
    process.stderr.write(`${explained.lastLine}\n`);
    return explained.child.exitCode ?? 1;
  }
  const { worker, code, signal } = failure;
  process.stderr.write(
    `spinn: rank ${worker.rank} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}\n`,
  );
  return code ?? 1;
}

/** The launcher's flags as parsed. */
export interface DistributedFlags {
  nproc?: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort?: number;
  distTimeout: number;
  logDir?: string;
}

/** The launcher's flags (spinn train). */
export function distributedOptions(): Option[] {
  return [
    intOption("--nproc <n>", "data-parallel: start n worker processes here (one BLAS thread each)", {
      min: 1,
    }),
    intOption("--nnodes <n>", "data-parallel: machines, each running --nproc workers", {
      min: 1,
      default: 1,
    }),
    intOption("--node-rank <n>", "data-parallel: this machine's number, 0 .. nnodes − 1", {
      min: 0,
      default: 0,
    }),
    hostOption("--master-addr <host>", "data-parallel: the machine of rank 0 (its rendezvous store)", {
      default: "127.0.0.1",
    }),
    intOption(
      "--master-port <port>",
      "data-parallel: the rendezvous port (default: a free one, one machine)",
      {
        min: 1,
        max: 65535,
      },
    ),
    intOption("--dist-timeout <s>", "data-parallel: seconds before a rendezvous or collective gives up", {
      min: 1,
      default: 120,
    }),
    new Option("--log-dir <dir>", "data-parallel: write each worker's log to DIR/rank-N.log"),
  ];
}
