// `spinn bench`: training and evaluation throughput as one JSON line (see src/benchmark/bench.ts).
import type { Command } from "commander";
import { ENCODERS } from "../../models/kinds.js";
import { UserError } from "../errors.js";
import { choiceFlag, defined, fileFlag, intFlag } from "../flags.js";

interface BenchFlags {
  data?: string;
  synthetic?: string;
  length?: string;
  model?: string;
  batchSize?: string;
  steps?: string;
  warmup?: string;
  evalBatches?: string;
  dEmbed?: string;
  dHidden?: string;
  dTracker?: string;
  dMlp?: string;
  nMlp?: string;
  device?: string;
  seed?: string;
}

async function runBenchCommand(f: BenchFlags): Promise<void> {
  if ((f.data === undefined) === (f.synthetic === undefined))
    throw new UserError("give one of --data FILE or --synthetic N");
  if (f.length !== undefined && f.synthetic === undefined)
    throw new UserError("--length applies to --synthetic pairs");
  if (f.device !== undefined && !/^(cpu|cuda(:\d+)?)$/.test(f.device)) {
    throw new UserError(`--device must be cpu, cuda or cuda:N, got "${f.device}"`);
  }
  const { runBench, DEFAULT_BENCH } = await import("../../benchmark/bench.js");
  const result = await runBench({
    ...DEFAULT_BENCH,
    ...defined({
      data: fileFlag(f.data, "--data"),
      synthetic: intFlag(f.synthetic, "--synthetic", 1),
      length: intFlag(f.length, "--length", 1),
      model: choiceFlag(f.model, "--model", ENCODERS),
      batchSize: intFlag(f.batchSize, "--batch-size", 1),
      steps: intFlag(f.steps, "--steps", 2),
      warmup: intFlag(f.warmup, "--warmup", 0),
      evalBatches: intFlag(f.evalBatches, "--eval-batches", 1),
      dEmbed: intFlag(f.dEmbed, "--d-embed", 1),
      dHidden: intFlag(f.dHidden, "--d-hidden", 1),
      dTracker: intFlag(f.dTracker, "--d-tracker", 1),
      dMlp: intFlag(f.dMlp, "--d-mlp", 1),
      nMlp: intFlag(f.nMlp, "--n-mlp", 0),
      device: f.device as "cpu" | undefined,
      seed: intFlag(f.seed, "--seed", 0),
    }),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

export function registerBenchCommand(program: Command): void {
  program
    .command("bench")
    .description("Measure training and evaluation throughput (pairs/s) and memory; prints one JSON line.")
    .option("--data <file>", "NLI file whose pairs (with parses) are used")
    .option("--synthetic <n>", "n random tree pairs with SNLI-like lengths instead of a file")
    .option("--length <n>", "with --synthetic: every sentence exactly n words (for scaling figures)")
    .option("--model <kind>", `${ENCODERS.join(" | ")} (default spinn-pi)`)
    .option("--batch-size <n>", "pairs per batch (default 128)")
    .option("--steps <n>", "timed training steps (default 20)")
    .option("--warmup <n>", "untimed steps first (default 2)")
    .option("--eval-batches <n>", "timed evaluation batches (default 20)")
    .option("--d-embed <n>", "embedding size (default 300)")
    .option("--d-hidden <n>", "hidden size (default 300)")
    .option("--d-tracker <n>", "tracker size (default 64)")
    .option("--d-mlp <n>", "classifier layer size (default 1024)")
    .option("--n-mlp <n>", "classifier layers (default 2)")
    .option("--device <device>", "cpu, cuda or cuda:N (default cpu)")
    .option("--seed <n>", "seed (default 1)")
    .addHelpText(
      "after",
      "\nExamples:\n  spinn bench --data snli_1.0_train_subset.jsonl\n  spinn bench --synthetic 5000 --batch-size 512 --device cuda",
    )
    .action(runBenchCommand);
}
