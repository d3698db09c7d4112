#!/usr/bin/env node
// The `spinn` command: one sub-command per job. Each command module registers itself on the
// program; this file only wires them together and turns user errors into one clear line.
import { Command, CommanderError } from "commander";
import { packageInfo } from "../util/package-info.js";
import { registerBenchCommand } from "./commands/bench.js";
import { registerDataCommands } from "./commands/data.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerEvalCommand } from "./commands/eval.js";
import { registerParseCommand } from "./commands/parse.js";
import { registerPredictCommand } from "./commands/predict.js";
import { registerServeCommand } from "./commands/serve.js";
import { registerTrainCommand } from "./commands/train.js";
import { exitCodeOf, userMessage } from "./errors.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("spinn")
    .description("Train, evaluate and inspect tree-structured sentence encoders (SPINN and relatives).")
    .version(packageInfo().version, "-V, --version", "print the version of spinn-ts")
    // Usage errors are one line, like every other user error.
    .configureOutput({
      outputError: (text, write) => write(`spinn: ${text.replace(/^error: /, "").trim()} (see --help)\n`),
    })
    .exitOverride();
  registerDemoCommand(program);
  registerTrainCommand(program);
  registerEvalCommand(program);
  registerPredictCommand(program);
  registerParseCommand(program);
  registerServeCommand(program);
  registerDataCommands(program);
  registerBenchCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // A command may have chosen its exit code (train: 130 after Ctrl-C).
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const message = userMessage(err);
    if (message === null) throw err;
    process.stderr.write(`spinn: ${message}\n`);
    return exitCodeOf(err);
  }
}

// A reader that stops early (`spinn predict ... | head -1`) closes the pipe: that is the reader's
// choice, not an error, so the process ends quietly with success instead of an EPIPE stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(0);
});

main(process.argv).then((code) => {
  process.exitCode = code;
});
