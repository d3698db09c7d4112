// `spinn demo`: the embedded default job. Generates ListOps data (train, dev and a held-out test
// set, unique across all three), trains SPINN-PI on the given trees, evaluates the best-on-dev
// model on the test set, shows a few test examples with their trees, and leaves the model in --out.
import { rmSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { ENCODERS, type EncoderKind } from "../../models/kinds.js";
import type { TrainOptions } from "../../training/options.js";
import type { TrainResult } from "../../training/trainer.js";
import { makeDirectory } from "../../util/make-directory.js";
import { UserError } from "../errors.js";
import { choiceOption, intOption } from "../flags.js";
import { writeJsonLine } from "../json-output.js";
import { epochBars, makeProgress } from "../progress.js";

/** The demo's model and optimizer: small enough to train in minutes on two cores. */
const DEMO_SETTINGS = {
  batchSize: 64,
  optimizer: "adam",
  lr: 2e-3,
  lrDecay: 0.9,
  dEmbed: 128,
  dHidden: 128,
  dTracker: 32,
  dMlp: 256,
  nMlp: 1,
  embedDropout: 0,
  mlpDropout: 0,
} satisfies Partial<TrainOptions>;

interface DemoFlags extends DemoSettings {
  out: string;
  json?: boolean;
}

async function runDemo(f: DemoFlags): Promise<void> {
  const { seed, trainSize, epochs, maxLength, model } = f;
  const settings = { seed, trainSize, epochs, maxLength, model };
  const say = (line: string) => {
    if (!f.json) process.stdout.write(`${line}\n`);
  };
  const files = await generateData(f.out, settings, say);
  const result = await trainDemoModel(path.join(f.out, "run"), files, settings, Boolean(f.json), say);
  await reportTest(path.join(f.out, "run"), files.test, settings, result, Boolean(f.json), say);
  if (result.bestDevAccuracy === null) throw new UserError("training ended before any evaluation");
  say(nextSteps(path.join(f.out, "run"), files.test));
}

/** What to try after the demo: the model just trained, and the shipped ones by name. */
function nextSteps(runDir: string, testFile: string): string {
  const lines = [
    "next:",
    `  echo '[MAX 2 9 [MIN 4 7 ] 0 ]' | spinn parse --model listops-rl --pretty   # a shipped model parses`,
    `  spinn eval --model listops-pi --data ${testFile}     # a shipped model, longer trained`,
    `  echo '{"sentence": "[SM 3 [MAX 4 8 ] ]"}' | spinn predict --model-dir ${runDir} --pretty`,
    `  echo '{"premise": "A man plays a guitar.", "hypothesis": "A person makes music."}' | spinn predict --model snli-spinn --pretty`,
  ];
  return lines.join("\n");
}

interface DemoSettings {
  seed: number;
  trainSize: number;
  epochs: number;
  maxLength: number;
  model: EncoderKind;
}

type DemoFiles = { train: string; dev: string; test: string };
type Say = (line: string) => void;

/** One generator stream, split three ways: the test set shares no expression with training. */
async function generateData(out: string, s: DemoSettings, say: Say): Promise<DemoFiles> {
  const { generateListOps } = await import("../../data/listops-generate.js");
  const { writeFileAtomic } = await import("../../util/atomic-write.js");
  const heldOut = Math.max(500, Math.round(s.trainSize / 10));
  const generated = generateListOps({
    count: s.trainSize + 2 * heldOut,
    seed: s.seed,
    maxLength: s.maxLength,
  });
  const dataDir = path.join(out, "data");
  makeDirectory(dataDir);
  const files = {
    train: path.join(dataDir, "train.tsv"),
    dev: path.join(dataDir, "dev.tsv"),
    test: path.join(dataDir, "test.tsv"),
  };
  const lines = generated.lines.map((l) => `${l}\n`);
  writeFileAtomic(files.train, lines.slice(0, s.trainSize).join(""));
  writeFileAtomic(files.dev, lines.slice(s.trainSize, s.trainSize + heldOut).join(""));
  writeFileAtomic(files.test, lines.slice(s.trainSize + heldOut).join(""));
  say(
    `generated ListOps: ${s.trainSize} train, ${heldOut} dev, ${heldOut} test expressions (up to ${s.maxLength} tokens) in ${dataDir}`,
  );
  return files;
}

/** Trains the demo's model from scratch into `runDir`, with a progress bar on terminals. */
async function trainDemoModel(runDir: string, files: DemoFiles, s: DemoSettings, json: boolean, say: Say) {
  const { train } = await import("../../training/trainer.js");
  const { defaultTrainOptions } = await import("../../training/options.js");
  const options = defaultTrainOptions({
    task: "listops",
    train: files.train,
    dev: files.dev,
    out: runDir,
    model: s.model,
    epochs: s.epochs,
    seed: s.seed,
    ...DEMO_SETTINGS,
  });
  rmSync(runDir, { recursive: true, force: true });
  say(
    `training ${s.model} (hidden ${options.dHidden}, tracker ${options.dTracker}) for ${s.epochs} epochs...`,
  );
  const progress = makeProgress(!json);
  const result = await train(options, {
    log: (m) => progress.log(m),
    onStep: epochBars(progress, s.epochs),
    onEval: (e) => progress.log(`after epoch ${e.epoch}: dev accuracy ${(100 * e.devAccuracy).toFixed(2)}%`),
  });
  progress.stop();
  return result;
}

/** Test accuracy of the best-on-dev model, a few test trees, and the JSON summary when asked. */
async function reportTest(
  runDir: string,
  testFile: string,
  s: DemoSettings,
  result: TrainResult,
  json: boolean,
  say: Say,
): Promise<void> {
  const { loadModelDir } = await import("../../models/model-dir.js");
  const { evaluate } = await import("../../inference/evaluate.js");
  const { readTaskData } = await import("../../tasks/task.js");
  const { drawTree } = await import("../../data/tree-format.js");
  const loaded = loadModelDir(runDir);
  try {
    const test = await readTaskData(testFile, "listops");
    const { predictions, report } = evaluate(loaded.model, test, loaded.vocab);
    say(
      `\ntest accuracy (held-out generated set): ${(100 * report.accuracy).toFixed(2)}% on ${report.examples} expressions`,
    );
    say(`model saved in ${loaded.dir}\n`);
    // A few short test expressions, so that their trees fit on a screen.
    const shown = test.examples
      .map((ex, i) => ({ ex, i }))
      .filter(
        ({ ex }) => "sentence" in ex && ex.sentence.tokens.length >= 5 && ex.sentence.tokens.length <= 9,
      )
      .slice(0, 3);
    for (const { ex, i } of shown) {
      if (!("sentence" in ex) || !ex.sentence.transitions) continue;
      say(`${ex.sentence.tokens.join(" ")}  → predicted ${predictions.predicted[i]}, true ${ex.label}`);
      say(drawTree(ex.sentence.tokens, ex.sentence.transitions));
      say("");
    }
    if (json) {
      const summary = {
        task: "listops (generated)",
        model: s.model,
        train_examples: s.trainSize,
        test_examples: report.examples,
        epochs: s.epochs,
        steps: result.steps,
        best_dev_accuracy: result.bestDevAccuracy,
        test_accuracy: report.accuracy,
        seconds: result.seconds,
        model_dir: loaded.dir,
      };
      writeJsonLine(summary);
    }
  } finally {
    loaded.model.dispose();
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "The embedded default job: generate ListOps data, train SPINN-PI on it, report held-out test accuracy with a few trees, save the model.",
    )
    .option("--out <dir>", "where data, run and model go", "runs/demo")
    .addOption(intOption("--seed <n>", "seed for data, initialisation and batch order", { default: 1 }))
    .addOption(intOption("--train-size <n>", "training expressions", { min: 100, default: 20000 }))
    .addOption(intOption("--epochs <n>", "training epochs", { min: 1, default: 6 }))
    .addOption(
      intOption("--max-length <n>", "longest expression, in tokens without brackets", {
        min: 5,
        default: 40,
      }),
    )
    .addOption(choiceOption("--model <kind>", "encoder to train", ENCODERS, { default: "spinn-pi" }))
    .option("--json", "print only a JSON summary line")
    .addHelpText(
      "after",
      "\nExamples:\n  spinn demo\n  spinn demo --train-size 2000 --epochs 2 --json\n  spinn demo --model lstm",
    )
    .action(runDemo);
}
