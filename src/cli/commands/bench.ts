// `spinn bench`: training and evaluation throughput as one JSON line (see src/benchmark/bench.ts).
import type { Command } from "commander";
import { type BenchOptions, DEFAULT_BENCH } from "../../benchmark/options.js";
import { ENCODERS, PARSERS } from "../../models/kinds.js";
import { UserError } from "../errors.js";
import {
  addOptions,
  checkParserFlags,
  choiceOption,
  deviceOption,
  fileOption,
  intListOption,
  intOption,
  sizeOptions,
} from "../flags.js";
import { writeJsonLine } from "../json-output.js";

type BenchFlags = Omit<BenchOptions, "length"> & { length?: number[] };

async function runBenchCommand(f: BenchFlags): Promise<void> {
  if ((f.data === undefined) === (f.synthetic === undefined))
    throw new UserError("give one of --data FILE or --synthetic N");
  if (f.length !== undefined && f.synthetic === undefined)
    throw new UserError("--length applies to --synthetic pairs");
  checkParserFlags(f.model, { parser: f.parser === "shared" ? undefined : f.parser });
  const { runBench } = await import("../../benchmark/bench.js");
  const { length: lengths, ...options } = f;
  // --length 10,100,1000: a sweep, one run (and one JSON line) per length.
  for (const length of lengths ?? [undefined]) {
    writeJsonLine(await runBench({ ...options, ...(length === undefined ? {} : { length }) }));
  }
}

export function registerBenchCommand(program: Command): void {
  const d = DEFAULT_BENCH;
  const command = program
    .command("bench")
    .description("Measure training and evaluation throughput (pairs/s) and memory; prints one JSON line.")
    .addOption(fileOption("--data <file>", "NLI file whose pairs (with parses) are used"))
    .addOption(
      intOption("--synthetic <n>", "n random tree pairs with SNLI-like lengths instead of a file", {
        min: 1,
      }),
    )
    .addOption(
      intListOption(
        "--length <n,...>",
        "with --synthetic: every sentence exactly n words (scaling figures); a comma list sweeps lengths, one JSON line each",
        { min: 1, max: 1000 },
      ),
    )
    .addOption(choiceOption("--model <kind>", "encoder", ENCODERS, { default: d.model }))
    .addOption(
      choiceOption(
        "--parser <kind>",
        "spinn, rl-spinn: what decides the transitions, as spinn train --parser (a separate or merge parser sized as the composer; the FLOP count then covers the composer alone)",
        PARSERS,
        { default: d.parser },
      ),
    )
    .addOption(intOption("--batch-size <n>", "pairs per batch", { min: 1, default: d.batchSize }))
    .addOption(
      intOption(
        "--batch-tokens <n>",
        "also at most n sentences × transitions per batch, as spinn train's batches (0: no budget, batches of the batch size whatever their length)",
        { min: 0, default: d.batchTokens },
      ),
    )
    .addOption(intOption("--steps <n>", "timed training steps", { min: 2, default: d.steps }))
    .addOption(intOption("--warmup <n>", "untimed steps first", { min: 0, default: d.warmup }))
    .addOption(
      intOption("--eval-batches <n>", "timed evaluation batches", { min: 1, default: d.evalBatches }),
    );
  addOptions(command, sizeOptions())
    .addOption(deviceOption(d.device))
    .addOption(intOption("--seed <n>", "seed", { min: 0, default: d.seed }))
    .addHelpText(
      "after",
      "\nExamples:\n  spinn bench --data snli_1.0_train_subset.jsonl\n  spinn bench --synthetic 5000 --batch-size 512 --device cuda",
    )
    .action(runBenchCommand);
}
