// `spinn serve`: an HTTP API over one or more models (src/serve/): predictions and parses with
// continuous or gathered batching, health and Prometheus metrics. Prints the URL it listens on;
// SIGTERM or Ctrl-C stop taking requests, answer those in flight, and exit 0.
import { existsSync, statSync } from "node:fs";
import { type Command, Option } from "commander";
import type { Device } from "../../engine/dtype.js";
import { DEFAULT_INPUT_LIMITS, INPUT_LIMIT_FLAGS } from "../../inference/input-limits.js";
import {
  DEFAULT_BATCHING,
  DEFAULT_BODY_LIMIT,
  defaultServeOptions,
  defaultWorkers,
  MAX_WORKERS,
} from "../../serve/options.js";
import { UserError } from "../errors.js";
import { addOptions, deviceOption, hostOption, intOption } from "../flags.js";
import { writeJsonLine } from "../json-output.js";

interface ServeFlags {
  model: string[];
  port: number;
  host: string;
  workers: number;
  maxBatch: number;
  maxWaitMs: number;
  queue: number;
  timeoutMs: number;
  bodyLimit: number;
  device: Device;
  maxTokens: number;
  maxLineBytes: number;
  runs?: string;
  json?: boolean;
  /** Commander's name for --no-rolling. */
  rolling: boolean;
}

/** The directory of training runs the page's runs view shows. */
function runsValue(value: string): string {
  if (!existsSync(value) || !statSync(value).isDirectory())
    throw new UserError(`--runs: no such directory: ${value}`);
  return value;
}

/** A failed listen as one line: the address taken, not ours to take, or not on this machine. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  if (err.code === "EADDRINUSE")
    return new UserError(`--port ${port}: ${where} is already in use (EADDRINUSE)`);
  if (err.code === "EACCES")
    return new UserError(`--port ${port}: not allowed to listen on ${where} (EACCES)`);
  if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND")
    return new UserError(`--host ${host}: not an address of this machine (${err.code})`);
  return err;
}

async function runServe(f: ServeFlags): Promise<void> {
  const { buildServer } = await import("../../serve/server.js");
  const { webPlugin } = await import("../../serve/web.js");
  const options = defaultServeOptions(f.model, {
    device: f.device,
    workers: f.workers,
    maxBatch: f.maxBatch,
    maxWaitMs: f.maxWaitMs,
    queue: f.queue,
    timeoutMs: f.timeoutMs,
    bodyLimit: f.bodyLimit,
    rolling: f.rolling,
    limits: { maxTokens: f.maxTokens, maxLineBytes: f.maxLineBytes },
  });
  const plugins = [{ plugin: webPlugin, options: f.runs === undefined ? {} : { runsDir: f.runs } }];
  const app = await buildServer({ ...options, plugins });
  try {
    await app.listen({ port: f.port, host: f.host });
  } catch (err) {
    await app.close();
    throw listenError(err as NodeJS.ErrnoException, f.host, f.port);
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : f.port;
  const url = `http://${f.host.includes(":") ? `[${f.host}]` : f.host}:${port}`;
  const names = options.models;
  if (f.json) writeJsonLine({ url, host: f.host, port, models: names });
  else process.stdout.write(`spinn serve: listening on ${url} (models: ${names.join(", ")})\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stderr.write(`spinn serve: ${signal}: answering the requests in flight, then stopping\n`);
      // A second signal while draining stops at once.
      process.once(signal, () => process.exit(130));
      app.close().then(resolve, resolve);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

export function registerServeCommand(program: Command): void {
  const command = program
    .command("serve")
    .description(
      "Serve models over HTTP: predictions and parses with continuous (or gathered) batching, health, metrics.",
    )
    .addOption(
      new Option(
        "--model <dir-or-name>",
        "a model directory or a shipped model's name; repeat for more (the first is the default)",
      )
        .argParser((value: string, previous: string[] = []) => [...previous, value])
        .makeOptionMandatory(),
    )
    .addOption(
      intOption("--port <port>", "TCP port, 0 for any free one", { min: 0, max: 65535, default: 8080 }),
    )
    .addOption(hostOption("--host <host>", "address to listen on", { default: "127.0.0.1" }))
    .addOption(
      new Option("--runs <dir>", "a directory of training runs for the page's runs view").argParser(
        runsValue,
      ),
    );
  addOptions(command, [
    intOption(
      "--workers <n>",
      "model worker threads, each with its own copy of the models (several: one BLAS thread each)",
      {
        min: 1,
        max: MAX_WORKERS,
        default: defaultWorkers(),
        defaultText: `${defaultWorkers()}: the cores, at most 8`,
      },
    ),
    intOption("--max-batch <n>", "most items in one model batch (continuous batching: in one worker)", {
      min: 1,
      default: DEFAULT_BATCHING.maxBatch,
    }),
    intOption("--max-wait-ms <ms>", "how long a gathered batch waits for more items", {
      min: 0,
      default: DEFAULT_BATCHING.maxWaitMs,
    }),
    intOption("--queue <n>", "most items waiting (beyond it 503); also the most in one request", {
      min: 1,
      default: DEFAULT_BATCHING.queue,
    }),
    intOption("--timeout-ms <ms>", "time to answer a request (beyond it 504)", {
      min: 1,
      default: DEFAULT_BATCHING.timeoutMs,
    }),
    intOption("--body-limit <bytes>", "most bytes in a request body (beyond it 413)", {
      min: 1,
      default: DEFAULT_BODY_LIMIT,
    }),
    intOption(`${INPUT_LIMIT_FLAGS.maxTokens} <n>`, "most tokens in one sentence", {
      min: 1,
      default: DEFAULT_INPUT_LIMITS.maxTokens,
    }),
    intOption(`${INPUT_LIMIT_FLAGS.maxLineBytes} <n>`, "most bytes in one item, as its JSON line", {
      min: 1,
      default: DEFAULT_INPUT_LIMITS.maxLineBytes,
    }),
    deviceOption("cpu"),
  ])
    .option(
      "--no-rolling",
      "gather every model's items into batches (--max-batch, --max-wait-ms) instead of continuous batching for the models that can",
    )
    .option("--json", 'print the address as one JSON line: {"url", "host", "port", "models"}')
    .addHelpText(
      "after",
      `
Endpoints: GET /healthz, GET /v1/models, POST /v1/predict, POST /v1/parse, GET /metrics;
the web page at / (and GET /v1/runs... for the runs view, with --runs).

Examples:
  spinn serve --model snli-spinn --model listops-pi --port 8080
  curl -s localhost:8080/v1/predict -H 'content-type: application/json' \\
    -d '{"inputs": {"premise": "A man plays a guitar.", "hypothesis": "A person makes music."}}'`,
    )
    .action(runServe);
}
