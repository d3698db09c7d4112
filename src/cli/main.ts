#!/usr/bin/env node
// The `spinn` command: runs the program (program.ts) and turns user errors into one clear line
// and an exit code.
import { CommanderError } from "commander";
import { exitCodeOf, userMessage } from "./errors.js";
import { buildProgram } from "./program.js";
import { keepYoungGenerationSmall } from "./young-generation.js";

keepYoungGenerationSmall();

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
