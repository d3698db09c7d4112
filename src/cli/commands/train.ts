// `spinn train`: flags → TrainOptions, a progress bar on terminals, JSON-lines metrics in the run
// directory (written by the trainer), SIGINT → checkpoint and exit, and --resume.
import { type Command, Option } from "commander";
import { BASELINES, ENCODERS, REWARDS, TASKS, TRANSITION_MODES } from "../../models/kinds.js";
import type { ModelSizes } from "../../models/sizes.js";
import {
  DEFAULT_LR,
  defaultTrainOptions,
  FLOAT_DTYPES,
  type FloatDType,
  OPTIMIZERS,
  resumedOptions,
  TRAIN_DEFAULTS,
  type TrainOptions,
} from "../../training/options.js";
import { UserError } from "../errors.js";
import {
  addSizeOptions,
  choiceFlag,
  defined,
  deviceFlag,
  fileFlag,
  intFlag,
  numberFlag,
  sizeFlags,
} from "../flags.js";
import { writeJsonLine } from "../json-output.js";
import { addDistributedOptions, type LaunchPlan, launch, type WorkerPlace, workerPlace } from "../launch.js";
import { epochBars, makeProgress } from "../progress.js";

interface TrainFlags extends Partial<Record<keyof ModelSizes, string>> {
  task?: string;
  train?: string;
  dev?: string;
  embeddings?: string;
  embeddingsCache?: string;
  model?: string;
  transitions?: string;
  transitionWeight?: string;
  reward?: string;
  baseline?: string;
  baselineDecay?: string;
  entropyWeight?: string;
  out: string;
  epochs?: string;
  batchSize?: string;
  batchTokens?: string;
  seed?: string;
  device?: string;
  dtype?: FloatDType;
  optimizer?: string;
  lr?: string;
  lrDecay?: string;
  l2?: string;
  clip?: string;
  evalEvery?: string;
  patience?: string;
  maxSteps?: string;
  trainEmbeddings?: boolean;
  minCount?: string;
  lowercase?: boolean;
  maxLength?: string;
  lenient?: boolean;
  resume?: boolean;
  json?: boolean;
  nproc?: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort?: number;
  distTimeout: number;
  logDir?: string;
}

/** Set by `--nproc` in the workers it starts: they train, they do not launch again. */
const LAUNCHED = "SPINN_LAUNCHED";

/** The flags as TrainOptions fields (undefined where not given). */
function parseFlags(f: TrainFlags): Partial<TrainOptions> {
  return defined({
    task: choiceFlag(f.task, "--task", TASKS),
    train: fileFlag(f.train, "--train"),
    dev: fileFlag(f.dev, "--dev"),
    embeddings: fileFlag(f.embeddings, "--embeddings"),
    embeddingsCache: f.embeddingsCache,
    model: choiceFlag(f.model, "--model", ENCODERS),
    transitions: choiceFlag(f.transitions, "--transitions", TRANSITION_MODES),
    transitionWeight: numberFlag(f.transitionWeight, "--transition-weight", 0),
    reward: choiceFlag(f.reward, "--reward", REWARDS),
    baseline: choiceFlag(f.baseline, "--baseline", BASELINES),
    baselineDecay: numberFlag(f.baselineDecay, "--baseline-decay", 0, 0.999999),
    entropyWeight: numberFlag(f.entropyWeight, "--entropy-weight", 0),
    out: f.out,
    epochs: intFlag(f.epochs, "--epochs", 1),
    batchSize: intFlag(f.batchSize, "--batch-size", 1),
    batchTokens: intFlag(f.batchTokens, "--batch-tokens", 1),
    seed: intFlag(f.seed, "--seed", 0),
    device: deviceFlag(f.device),
    dtype: f.dtype,
    optimizer: choiceFlag(f.optimizer, "--optimizer", OPTIMIZERS),
    lr: numberFlag(f.lr, "--lr", Number.MIN_VALUE),
    lrDecay: numberFlag(f.lrDecay, "--lr-decay", 0, 1),
    weightDecay: numberFlag(f.l2, "--l2", 0),
    clip: numberFlag(f.clip, "--clip", 0),
    evalEvery: intFlag(f.evalEvery, "--eval-every", 0),
    patience: intFlag(f.patience, "--patience", 0),
    maxSteps: intFlag(f.maxSteps, "--max-steps", 0),
    ...sizeFlags(f),
    trainEmbeddings: f.trainEmbeddings,
    minCount: intFlag(f.minCount, "--min-count", 1),
    lowercase: f.lowercase,
    maxLength: intFlag(f.maxLength, "--max-length", 0),
    lenient: f.lenient,
  });
}

async function runTrain(f: TrainFlags): Promise<void> {
  const launched = process.env[LAUNCHED] === "1";
  if (f.nproc !== undefined && !launched && process.env.WORLD_SIZE !== undefined)
    throw new UserError(
      "--nproc starts its workers itself: unset WORLD_SIZE (or start the workers yourself without --nproc)",
    );
  const place = workerPlace();
  const options = await trainOptions(f, (place?.rank ?? 0) === 0);
  if (f.nproc !== undefined && !launched) {
    await requireDistributed();
    process.env[LAUNCHED] = "1";
    process.exitCode = await launch(launchPlan(f), process.argv.slice(1));
    return;
  }
  await trainHere(f, options, place);
}

async function requireDistributed(): Promise<void> {
  const availability = (await import("../../engine/distributed.js")).distributedAvailability();
  if (!availability.available) throw new UserError(`--nproc: ${availability.reason}`);
}

function launchPlan(f: TrainFlags): LaunchPlan {
  if (f.nodeRank >= f.nnodes)
    throw new UserError(`--node-rank ${f.nodeRank} is not below --nnodes ${f.nnodes}`);
  if (f.nnodes > 1 && f.masterPort === undefined)
    throw new UserError(
      "--nnodes > 1 needs --master-port (and --master-addr, rank 0's machine), the same on every node",
    );
  return {
    nproc: f.nproc!,
    nnodes: f.nnodes,
    nodeRank: f.nodeRank,
    masterAddr: f.masterAddr,
    masterPort: f.masterPort ?? null,
    timeoutSeconds: f.distTimeout,
    logDir: f.logDir ?? null,
  };
}

/** The run's options from the flags (and, with --resume, the saved run), checked. */
async function trainOptions(f: TrainFlags, leader: boolean): Promise<TrainOptions> {
  const flags = parseFlags(f);
  const trainer = await import("../../training/trainer.js");
  let options: TrainOptions;
  // A run in progress in --out is named before anything else is said about the directory (rank 0
  // of a data-parallel run holds the lock while the others start).
  if (leader) (await import("../../training/run-lock.js")).checkUnlocked(f.out);
  if (f.resume) {
    const saved = trainer.savedRunOptions(f.out);
    if (!saved) throw new UserError(`--resume: ${f.out} has no checkpoint to resume from`);
    // Only the flags given on the command line (no defaults) are compared with the saved run.
    options = resumedOptions(saved, { ...flags, out: f.out });
  } else {
    for (const required of ["task", "train", "dev", "model"] as const) {
      if (flags[required] === undefined) throw new UserError(`--${required} is required (unless --resume)`);
    }
    if (leader && trainer.savedRunOptions(f.out)) {
      throw new UserError(
        `${f.out} already holds a training run: use --resume to continue it, or another --out`,
      );
    }
    options = defaultTrainOptions({ ...(flags as TrainOptions) });
    if (options.transitions !== "gold" && options.model !== "spinn-pi" && options.model !== "spinn-pi-nt") {
      throw new UserError(
        `--transitions ${options.transitions} applies to spinn-pi and spinn-pi-nt, not ${options.model}`,
      );
    }
    if (options.model !== "rl-spinn") {
      const rlFlags = {
        reward: "--reward",
        baseline: "--baseline",
        baselineDecay: "--baseline-decay",
        entropyWeight: "--entropy-weight",
      } as const;
      for (const [key, flag] of Object.entries(rlFlags)) {
        if (flags[key as keyof typeof rlFlags] !== undefined)
          throw new UserError(`${flag} applies to rl-spinn (REINFORCE), not ${options.model}`);
      }
    }
  }
  return options;
}

/** Trains in this process: alone, or as one rank of a data-parallel run (`place`). */
async function trainHere(f: TrainFlags, options: TrainOptions, place: WorkerPlace | null): Promise<void> {
  const trainer = await import("../../training/trainer.js");
  const leader = (place?.rank ?? 0) === 0;
  const timeoutMs = 1000 * Number(process.env.SPINN_DIST_TIMEOUT ?? f.distTimeout);
  const group = place
    ? (await import("../../engine/distributed.js")).ProcessGroup.join({ ...place, timeoutMs })
    : null;
  // One progress bar, one summary: rank 0's. The others' logs go to --log-dir (launch.ts).
  const progress = makeProgress(!f.json && leader);
  const abort = new AbortController();
  // Ctrl-C or a polite kill: finish the step, save a checkpoint, exit (kill -9 loses only the
  // steps since the last checkpoint, which --resume redoes identically).
  const onSigint = () => {
    progress.log("interrupted: saving a checkpoint (resume with --resume)");
    abort.abort();
  };
  process.once("SIGINT", onSigint);
  process.once("SIGTERM", onSigint);
  try {
    const result = await trainer.train(
      options,
      {
        signal: abort.signal,
        log: (m) => progress.log(m),
        onStep: epochBars(progress, options.epochs),
        onEval: (e) => {
          progress.log(
            `step ${e.step}: dev accuracy ${(100 * e.devAccuracy).toFixed(2)}%${e.best ? " (best so far, saved)" : ""}`,
          );
        },
      },
      Boolean(f.resume),
      group,
    );
    progress.stop();
    if (!leader) return;
    const best =
      result.bestDevAccuracy === null ? "no evaluation yet" : `${(100 * result.bestDevAccuracy).toFixed(2)}%`;
    if (!f.json) {
      process.stdout.write(
        `${result.interrupted ? "stopped" : "done"} after ${result.steps} steps (${result.seconds.toFixed(0)} s); ` +
          `best dev accuracy ${best}; model in ${result.out}/best, checkpoint in ${result.out}/last\n`,
      );
    } else {
      writeJsonLine(result);
    }
    if (result.interrupted) process.exitCode = 130;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    progress.stop();
    group?.destroy();
  }
}

export function registerTrainCommand(program: Command): void {
  const command = program
    .command("train")
    .description("Train a model; writes best-on-dev and rolling checkpoints and metrics.jsonl into --out.")
    .option("--task <task>", "nli or listops")
    .option("--train <file>", "training data (NLI .jsonl/.txt, or ListOps label<TAB>expression)")
    .option("--dev <file>", "development data, evaluated every --eval-every steps (default: every epoch)")
    .option(
      "--embeddings <file>",
      "pretrained vectors (GloVe/word2vec text); frozen unless --train-embeddings",
    )
    .option("--embeddings-cache <dir>", "cache the vectors in binary form here, so the next load is fast")
    .option("--model <kind>", ENCODERS.join(" | "))
    .option(
      "--transitions <mode>",
      "SPINN's trees: gold (the data's parses, default), or fixed left | right | balanced shapes (no parses needed)",
    )
    .option(
      "--transition-weight <x>",
      `weight of the transition loss: cross-entropy on the parses (spinn) or REINFORCE's policy loss (rl-spinn) (default ${TRAIN_DEFAULTS.transitionWeight})`,
    )
    .option(
      "--reward <kind>",
      `rl-spinn: neg-loss (−cross-entropy) or correct (1/0) (default ${TRAIN_DEFAULTS.reward})`,
    )
    .option(
      "--baseline <kind>",
      `rl-spinn: self-critical (the greedy parse's reward), moving-average, whiten ((r − mean) / std of the batch) or none (default ${TRAIN_DEFAULTS.baseline})`,
    )
    .option(
      "--baseline-decay <x>",
      `rl-spinn: moving-average decay per batch (default ${TRAIN_DEFAULTS.baselineDecay})`,
    )
    .option(
      "--entropy-weight <x>",
      `rl-spinn: weight of the policy's entropy bonus (default ${TRAIN_DEFAULTS.entropyWeight})`,
    )
    .requiredOption("--out <dir>", "run directory")
    .option("--epochs <n>", `epochs (default ${TRAIN_DEFAULTS.epochs})`)
    .option("--batch-size <n>", `examples per batch (default ${TRAIN_DEFAULTS.batchSize})`)
    .option(
      "--batch-tokens <n>",
      "also at most n sentences × transitions per batch (long sentences make smaller batches; default: no budget)",
    )
    .option("--seed <n>", `seed for initialisation, batch order and dropout (default ${TRAIN_DEFAULTS.seed})`)
    .option("--device <device>", `cpu, cuda or cuda:N (default ${TRAIN_DEFAULTS.device})`)
    .addOption(
      new Option(
        "--dtype <type>",
        `parameters' floating-point type (default ${TRAIN_DEFAULTS.dtype})`,
      ).choices(FLOAT_DTYPES),
    )
    .option(
      "--optimizer <name>",
      `${OPTIMIZERS.join(" | ")} (default ${TRAIN_DEFAULTS.optimizer}; lr ${OPTIMIZERS.map((k) => `${k} ${DEFAULT_LR[k]}`).join(", ")})`,
    )
    .option("--lr <x>", "learning rate")
    .option("--lr-decay <x>", `learning rate multiplier per epoch (default ${TRAIN_DEFAULTS.lrDecay})`)
    .option("--l2 <x>", `L2 weight decay (default ${TRAIN_DEFAULTS.weightDecay})`)
    .option("--clip <x>", `clip the global gradient norm (default ${TRAIN_DEFAULTS.clip}; 0 turns it off)`)
    .option("--eval-every <n>", "evaluate on dev every n steps (default: once per epoch)")
    .option("--patience <n>", "stop after n evaluations without improvement (default: never)")
    .option("--max-steps <n>", "stop after n steps in all");
  addSizeOptions(command)
    .option("--train-embeddings", "train the word embeddings (default when no --embeddings)")
    .option(
      "--min-count <n>",
      `vocabulary: keep words seen at least n times (default ${TRAIN_DEFAULTS.minCount})`,
    )
    .option("--lowercase", "vocabulary: lowercase words (default for nli)")
    .option("--no-lowercase", "vocabulary: keep case")
    .option("--max-length <n>", "longest sentence: longer NLI sentences are cropped, ListOps skipped")
    .option("--lenient", "skip invalid data lines (reported) instead of stopping")
    .option("--resume", "continue the run in --out exactly where its checkpoint left off")
    .option("--json", "no progress bar; end with a JSON summary line");
  addDistributedOptions(command)
    .addHelpText(
      "after",
      `
Examples:
  spinn train --task listops --train train.tsv --dev dev.tsv --model spinn-pi --out runs/lo
  spinn train --task nli --train snli_1.0_train.jsonl --dev snli_1.0_dev.jsonl \\
      --embeddings glove.6B.100d.txt --model spinn-pi --out runs/snli --eval-every 500
  spinn train --task listops --train train.tsv --dev dev.tsv --model rl-spinn --out runs/rl
  spinn train --task listops --train train.tsv --dev dev.tsv --model spinn-pi --out runs/lo --nproc 2
  spinn train --out runs/snli --resume`,
    )
    .action(runTrain);
}
