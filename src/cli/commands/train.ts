// `spinn train`: flags → TrainOptions, a progress bar on terminals, JSON-lines metrics in the run
// directory (written by the trainer), SIGINT → checkpoint and exit, --resume, and data-parallel
// training (--nproc and torchrun's variables: launch.ts).
import { type Command, Option } from "commander";
import { BASELINES, ENCODERS, PARSERS, REWARDS, TASKS, TRANSITION_MODES } from "../../models/kinds.js";
import {
  DEFAULT_LR,
  defaultTrainOptions,
  ENTROPY_DECAYS,
  FLOAT_DTYPES,
  OPTIMIZERS,
  resumedOptions,
  TRAIN_DEFAULTS,
  type TrainOptions,
} from "../../training/options.js";
import { UserError } from "../errors.js";
import {
  addOptions,
  checkParserFlags,
  choiceOption,
  curriculumOption,
  deviceOption,
  fileOption,
  givenOptions,
  intOption,
  numberOption,
  sizeOptions,
} from "../flags.js";
import { writeJsonLine } from "../json-output.js";
import {
  type DistributedFlags,
  distributedOptions,
  type LaunchPlan,
  launch,
  type WorkerPlace,
  workerPlace,
} from "../launch.js";
import { epochBars, makeProgress } from "../progress.js";

/** The flags as parsed: TrainOptions fields (--l2 is weightDecay) and what the command does. */
type TrainFlags = Partial<Omit<TrainOptions, "weightDecay">> &
  DistributedFlags & {
    out: string;
    l2?: number;
    resume?: boolean;
    json?: boolean;
  };

/** The flags given on the command line as TrainOptions fields (defaults left to defaultTrainOptions). */
function givenTrainOptions(command: Command): Partial<TrainOptions> & { out: string } {
  const given = givenOptions<TrainFlags>(command);
  const { l2, resume: _resume, json: _json, nproc: _n, nnodes: _nn, nodeRank: _nr, ...rest } = given;
  // How many workers train the run is not part of it (the run is the same for any number).
  const { masterAddr: _ma, masterPort: _mp, distTimeout: _dt, logDir: _ld, ...run } = rest;
  return { ...run, ...(l2 === undefined ? {} : { weightDecay: l2 }), out: command.opts<TrainFlags>().out };
}

/** Set by `--nproc` in the workers it starts: they train, they do not launch again. */
const LAUNCHED = "SPINN_LAUNCHED";

async function runTrain(f: TrainFlags, command: Command): Promise<void> {
  const launched = process.env[LAUNCHED] === "1";
  if (f.nproc !== undefined && !launched && process.env.WORLD_SIZE !== undefined)
    throw new UserError(
      "--nproc starts its workers itself: unset WORLD_SIZE (or start the workers yourself without --nproc)",
    );
  const place = workerPlace();
  const options = await trainOptions(f, command, (place?.rank ?? 0) === 0);
  const workers = (f.nproc ?? 1) * f.nnodes * (place?.worldSize ?? 1);
  if (options.ppoEpochs > 1 && workers > 1)
    throw new UserError(
      "--ppo-epochs > 1 trains in one process: PPO's extra passes are not data-parallel (drop --nproc)",
    );
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
async function trainOptions(f: TrainFlags, command: Command, leader: boolean): Promise<TrainOptions> {
  // Only the flags given are taken (a resume compares exactly those with the saved run); the
  // defaults, the same ones --help shows, come from defaultTrainOptions.
  const flags = givenTrainOptions(command);
  const trainer = await import("../../training/trainer.js");
  let options: TrainOptions;
  // A run in progress in --out is named before anything else is said about the directory (rank 0
  // of a data-parallel run holds the lock while the others start).
  if (leader) (await import("../../training/run-lock.js")).checkUnlocked(f.out);
  if (f.resume) {
    const saved = trainer.savedRunOptions(f.out);
    if (!saved) throw new UserError(`--resume: ${f.out} has no checkpoint to resume from`);
    // Only the flags given on the command line (no defaults) are compared with the saved run.
    options = resumedOptions(saved, flags);
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
    const givenTrees = options.model === "spinn-pi" || options.model === "spinn-pi-nt";
    if (
      options.subtreeWeight > 0 &&
      !(options.task === "listops" && givenTrees && options.transitions === "gold")
    ) {
      throw new UserError(
        "--subtree-weight applies to ListOps models that compose along the given trees (spinn-pi, spinn-pi-nt)",
      );
    }
    if (options.model !== "rl-spinn") {
      const rlFlags = {
        reward: "--reward",
        baseline: "--baseline",
        baselineDecay: "--baseline-decay",
        entropyWeight: "--entropy-weight",
        entropyDecay: "--entropy-decay",
        entropyDecaySteps: "--entropy-decay-steps",
        policyLr: "--policy-lr",
        ppoEpochs: "--ppo-epochs",
        ppoClip: "--ppo-clip",
      } as const;
      for (const [key, flag] of Object.entries(rlFlags)) {
        if (flags[key as keyof typeof rlFlags] !== undefined)
          throw new UserError(`${flag} applies to rl-spinn (REINFORCE), not ${options.model}`);
      }
    }
    checkParserFlags(options.model, flags);
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
    // A run stopped (--max-steps, Ctrl-C) before its first dev evaluation has no best model yet.
    const best =
      result.bestDevAccuracy === null
        ? "none yet (no dev evaluation ran, so no best model)"
        : `${(100 * result.bestDevAccuracy).toFixed(2)}%; model in ${result.out}/best`;
    if (!f.json) {
      process.stdout.write(
        `${result.interrupted ? "stopped" : "done"} after ${result.steps} steps (${result.seconds.toFixed(0)} s); ` +
          `best dev accuracy ${best}; checkpoint in ${result.out}/last\n`,
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

/** What to train and on what: task, data, vectors, model kind and its trees, where the run goes. */
function runOptions(): Option[] {
  return [
    choiceOption("--task <task>", "the task", TASKS),
    fileOption("--train <file>", "training data (NLI .jsonl/.txt, or ListOps label<TAB>expression)"),
    fileOption("--dev <file>", "development data, evaluated every --eval-every steps"),
    fileOption(
      "--embeddings <file>",
      "pretrained vectors (GloVe/word2vec text); frozen unless --train-embeddings",
    ),
    new Option("--embeddings-cache <dir>", "cache the vectors in binary form here, so the next load is fast"),
    choiceOption("--model <kind>", "the encoder", ENCODERS),
    choiceOption(
      "--transitions <mode>",
      "SPINN's trees: gold (the data's parses), or fixed left | right | balanced shapes (no parses needed)",
      TRANSITION_MODES,
      { default: TRAIN_DEFAULTS.transitions },
    ),
    numberOption(
      "--transition-weight <x>",
      "weight of the transition loss: cross-entropy on the parses (spinn) or REINFORCE's policy loss (rl-spinn)",
      { min: 0, default: TRAIN_DEFAULTS.transitionWeight },
    ),
    choiceOption(
      "--parser <kind>",
      "spinn, rl-spinn: what decides the transitions: shared (the encoder's own tracker), separate (a shift-reduce parser with its own embeddings, TreeLSTM and tracker, trained by the transition or policy loss alone; the composer then has no tracker unless --composer-tracker) or merge (rl-spinn: an easy-first parser that merges one adjacent pair at a time, after Choi et al. 2018 and Havrylov et al. 2019; --d-tracker sizes its context LSTM)",
      PARSERS,
      { default: TRAIN_DEFAULTS.parser },
    ),
    intOption("--parser-hidden <n>", "hidden size of a separate or merge parser (default: --d-hidden)", {
      min: 1,
    }),
    intOption(
      "--composer-tracker <n>",
      "with a separate or merge parser: size of the composer's own tracker LSTM, which follows the parser's transitions and feeds every composition (default: none)",
      { min: 1 },
    ),
    numberOption(
      "--subtree-weight <x>",
      "ListOps, spinn-pi(-nt) with the given trees: weight of the loss on every sub-list's value, read out by the classifier (0: the label alone)",
      { min: 0, default: TRAIN_DEFAULTS.subtreeWeight },
    ),
    new Option("--out <dir>", "run directory").makeOptionMandatory(),
  ];
}

/** RL-SPINN's REINFORCE settings. */
function reinforceOptions(): Option[] {
  return [
    choiceOption("--reward <kind>", "rl-spinn: neg-loss (−cross-entropy) or correct (1/0)", REWARDS, {
      default: TRAIN_DEFAULTS.reward,
    }),
    choiceOption(
      "--baseline <kind>",
      "rl-spinn: self-critical (the greedy parse's reward), moving-average, whiten ((r − mean) / std of the batch), learned (a value head on the greedy parse's encoding predicts the reward, trained by squared error) or none",
      BASELINES,
      { default: TRAIN_DEFAULTS.baseline },
    ),
    numberOption("--baseline-decay <x>", "rl-spinn: moving-average decay per batch", {
      min: 0,
      max: 0.999999,
      default: TRAIN_DEFAULTS.baselineDecay,
    }),
    numberOption("--entropy-weight <x>", "rl-spinn: weight of the policy's entropy bonus", {
      min: 0,
      default: TRAIN_DEFAULTS.entropyWeight,
    }),
    choiceOption(
      "--entropy-decay <schedule>",
      "rl-spinn: the entropy bonus's schedule over the steps: constant, linear (to 0 at --entropy-decay-steps) or exponential (×e^(−step / --entropy-decay-steps))",
      ENTROPY_DECAYS,
      { default: TRAIN_DEFAULTS.entropyDecay },
    ),
    intOption(
      "--entropy-decay-steps <n>",
      "rl-spinn: the entropy schedule's length or time constant, in steps",
      {
        min: 1,
        default: TRAIN_DEFAULTS.entropyDecaySteps,
      },
    ),
    numberOption(
      "--policy-lr <x>",
      "rl-spinn: learning rate of the tracker's transition policy, its own optimizer parameter group (decayed with --lr-decay as the rest; default: --lr)",
      { min: Number.MIN_VALUE },
    ),
    intOption(
      "--ppo-epochs <k>",
      "rl-spinn: passes over each batch's sampled trees: the first REINFORCE's, the others PPO-clipped updates of the transition policy alone (one process only)",
      { min: 1, default: TRAIN_DEFAULTS.ppoEpochs },
    ),
    numberOption("--ppo-clip <eps>", "rl-spinn: PPO's clip ε (the ratio is clipped to [1 − ε, 1 + ε])", {
      min: Number.MIN_VALUE,
      max: 0.999999,
      default: TRAIN_DEFAULTS.ppoClip,
    }),
  ];
}

/** Batches, seed, device, optimizer and how long to train. */
function scheduleOptions(): Option[] {
  return [
    intOption("--epochs <n>", "epochs", { min: 1, default: TRAIN_DEFAULTS.epochs }),
    intOption("--batch-size <n>", "examples per batch", { min: 1, default: TRAIN_DEFAULTS.batchSize }),
    intOption(
      "--batch-tokens <n>",
      "also at most n sentences × transitions per batch, so long sentences make smaller batches and a batch of them cannot hold many times the memory of an ordinary one (0: no budget, batches of the batch size whatever their length)",
      { min: 0, default: TRAIN_DEFAULTS.batchTokens },
    ),
    curriculumOption(
      "--curriculum <lengths>",
      "short first: epoch k trains only on examples of at most the k-th length in tokens, later epochs on all (e.g. 40x4,100,300: four epochs at <= 40, one at <= 100, one at <= 300)",
    ),
    intOption("--seed <n>", "seed for initialisation, batch order and dropout", {
      min: 0,
      default: TRAIN_DEFAULTS.seed,
    }),
    deviceOption(TRAIN_DEFAULTS.device),
    choiceOption("--dtype <type>", "parameters' floating-point type", FLOAT_DTYPES, {
      default: TRAIN_DEFAULTS.dtype,
    }),
    choiceOption("--optimizer <name>", "the optimizer", OPTIMIZERS, { default: TRAIN_DEFAULTS.optimizer }),
    numberOption(
      "--lr <x>",
      `learning rate (default by optimizer: ${OPTIMIZERS.map((k) => `${k} ${DEFAULT_LR[k]}`).join(", ")})`,
      { min: Number.MIN_VALUE },
    ),
    numberOption("--lr-decay <x>", "learning rate multiplier per epoch", {
      min: 0,
      max: 1,
      default: TRAIN_DEFAULTS.lrDecay,
    }),
    numberOption("--l2 <x>", "L2 weight decay", { min: 0, default: TRAIN_DEFAULTS.weightDecay }),
    numberOption("--clip <x>", "clip the global gradient norm (0 turns it off)", {
      min: 0,
      default: TRAIN_DEFAULTS.clip,
    }),
    intOption("--eval-every <n>", "evaluate on dev every n steps", {
      min: 0,
      default: TRAIN_DEFAULTS.evalEvery,
      defaultText: "0, once per epoch",
    }),
    intOption("--patience <n>", "stop after n evaluations without improvement", {
      min: 0,
      default: TRAIN_DEFAULTS.patience,
      defaultText: "0, never",
    }),
    intOption("--max-steps <n>", "stop after n steps in all", {
      min: 0,
      default: TRAIN_DEFAULTS.maxSteps,
      defaultText: "0, every epoch",
    }),
  ];
}

/** The vocabulary, sentence lengths and how strictly data is read. */
function vocabularyOptions(): Option[] {
  return [
    new Option("--train-embeddings", "train the word embeddings (default when no --embeddings)"),
    intOption("--min-count <n>", "vocabulary: keep words seen at least n times", {
      min: 1,
      default: TRAIN_DEFAULTS.minCount,
    }),
    new Option("--lowercase", "vocabulary: lowercase words (default for nli)"),
    new Option("--no-lowercase", "vocabulary: keep case"),
    intOption("--max-length <n>", "longest sentence: longer NLI sentences are cropped, ListOps skipped", {
      min: 0,
      default: TRAIN_DEFAULTS.maxLength,
      defaultText: "0, no limit",
    }),
    new Option("--lenient", "skip invalid data lines (reported) instead of stopping"),
  ];
}

export function registerTrainCommand(program: Command): void {
  const command = program
    .command("train")
    .description("Train a model; writes best-on-dev and rolling checkpoints and metrics.jsonl into --out.");
  const options = [...runOptions(), ...reinforceOptions(), ...scheduleOptions(), ...sizeOptions()];
  addOptions(command, [...options, ...vocabularyOptions(), ...distributedOptions()])
    .option("--resume", "continue the run in --out exactly where its checkpoint left off")
    .option("--json", "no progress bar; end with a JSON summary line")
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
