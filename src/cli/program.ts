// The `spinn` program: one sub-command per job. Each command module registers itself on the
// program; this file only wires them together (main.ts runs it), so that tests can look at every
// command's flags without running one.
import { Command } from "commander";
import { packageInfo } from "../util/package-info.js";
import { registerBenchCommand } from "./commands/bench.js";
import { registerDataCommands } from "./commands/data.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerEvalCommand } from "./commands/eval.js";
import { registerParseCommand } from "./commands/parse.js";
import { registerPlotCommand } from "./commands/plot.js";
import { registerPredictCommand } from "./commands/predict.js";
import { registerServeCommand } from "./commands/serve.js";
import { registerTrainCommand } from "./commands/train.js";

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
  registerPlotCommand(program);
  return program;
}
