// `spinn bench`: training and evaluation throughput as one JSON line (see src/benchmark/bench.ts).
import type { Command } from "commander";
import { DEFAULT_BENCH } from "../../benchmark/options.js";
import { ENCODERS } from "../../models/kinds.js";
import type { ModelSizes } from "../../models/sizes.js";
import { UserError } from "../errors.js";
import { addSizeOptions, choiceFlag, defined, deviceFlag, fileFlag, intFlag, sizeFlags } from "../flags.js";
import { writeJsonLine } from "../json-output.js";

interface BenchFlags extends Partial<Record<keyof ModelSizes, string>> {
  data?: string;
  synthetic?: string;
  length?: string;
  model?: string;
  batchSize?: string;
  steps?: string;
  warmup?: string;
  evalBatches?: string;
  device?: string;
  seed?: string;
}

async function runBenchCommand(f: BenchFlags): Promise<void> {
  if ((f.data === undefined) === (f.synthetic === undefined))
    throw new UserError("give one of --data FILE or --synthetic N");
  if (f.length !== undefined && f.synthetic === undefined)
    throw new UserError("--length applies to --synthetic pairs");
  // --length 10,100,1000: a sweep, one run (and one JSON line) per length.
  const lengths =
    f.length === undefined ? [undefined] : f.length.split(",").map((l) => intFlag(l, "--length", 1));
  if (lengths.some((l) => l !== undefined && l > 1000)) throw new UserError("--length goes up to 1000 words");
  const { runBench } = await import("../../benchmark/bench.js");
  for (const length of lengths) await runOne(f, length, runBench);
}

async function runOne(
  f: BenchFlags,
  length: number | undefined,
  runBench: typeof import("../../benchmark/bench.js").runBench,
): Promise<void> {
  const result = await runBench({
    ...DEFAULT_BENCH,
    ...defined({
      data: fileFlag(f.data, "--data"),
      synthetic: intFlag(f.synthetic, "--synthetic", 1),
      length,
      model: choiceFlag(f.model, "--model", ENCODERS),
      batchSize: intFlag(f.batchSize, "--batch-size", 1),
      steps: intFlag(f.steps, "--steps", 2),
      warmup: intFlag(f.warmup, "--warmup", 0),
      evalBatches: intFlag(f.evalBatches, "--eval-batches", 1),
      ...sizeFlags(f),
      device: deviceFlag(f.device),
      seed: intFlag(f.seed, "--seed", 0),
    }),
  });
  writeJsonLine(result);
}

export function registerBenchCommand(program: Command): void {
  const d = DEFAULT_BENCH;
  const command = program
    .command("bench")
    .description("Measure training and evaluation throughput (pairs/s) and memory; prints one JSON line.")
    .option("--data <file>", "NLI file whose pairs (with parses) are used")
    .option("--synthetic <n>", "n random tree pairs with SNLI-like lengths instead of a file")
    .option(
      "--length <n,...>",
      "with --synthetic: every sentence exactly n words (scaling figures); a comma list sweeps lengths (up to 1000), one JSON line each",
    )
    .option("--model <kind>", `${ENCODERS.join(" | ")} (default ${d.model})`)
    .option("--batch-size <n>", `pairs per batch (default ${d.batchSize})`)
    .option("--steps <n>", `timed training steps (default ${d.steps})`)
    .option("--warmup <n>", `untimed steps first (default ${d.warmup})`)
    .option("--eval-batches <n>", `timed evaluation batches (default ${d.evalBatches})`);
  addSizeOptions(command)
    .option("--device <device>", `cpu, cuda or cuda:N (default ${d.device})`)
    .option("--seed <n>", `seed (default ${d.seed})`)
    .addHelpText(
      "after",
      "\nExamples:\n  spinn bench --data snli_1.0_train_subset.jsonl\n  spinn bench --synthetic 5000 --batch-size 512 --device cuda",
    )
    .action(runBenchCommand);
}
