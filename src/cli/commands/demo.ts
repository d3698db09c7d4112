// `spinn demo`: the embedded default job. Generates ListOps data (train, dev and a held-out test
// set, unique across all three), trains SPINN-PI on the given trees, evaluates the best-on-dev
// model on the test set, shows a few test examples with their trees, and leaves the model in --out.
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { ENCODERS } from "../../models/kinds.js";
import { UserError } from "../errors.js";
import { choiceFlag, intFlag } from "../flags.js";
import { epochBars, makeProgress } from "../progress.js";

interface DemoFlags {
  out: string;
  seed: string;
  trainSize: string;
  epochs: string;
  maxLength: string;
  model: string;
  json?: boolean;
}

async function runDemo(f: DemoFlags): Promise<void> {
  const seed = intFlag(f.seed, "--seed", 0)!;
  const trainSize = intFlag(f.trainSize, "--train-size", 100)!;
  const epochs = intFlag(f.epochs, "--epochs", 1)!;
  const maxLength = intFlag(f.maxLength, "--max-length", 5)!;
  const model = choiceFlag(f.model, "--model", ENCODERS)!;
  const { generateListOps } = await import("../../data/listops-generate.js");
  const { writeFileAtomic } = await import("../../util/atomic-write.js");
  const { train, defaultTrainOptions } = await import("../../training/trainer.js");
  const { loadModelDir } = await import("../../models/model-dir.js");
  const { evaluate } = await import("../../inference/evaluate.js");
  const { readTaskData } = await import("../../tasks/task.js");
  const { drawTree } = await import("../../data/tree-format.js");
  const say = (line: string) => {
    if (!f.json) process.stdout.write(`${line}\n`);
  };

  // One generator stream, split three ways: the test set shares no expression with training.
  const heldOut = Math.max(500, Math.round(trainSize / 10));
  const generated = generateListOps({ count: trainSize + 2 * heldOut, seed, maxLength });
  const dataDir = path.join(f.out, "data");
  mkdirSync(dataDir, { recursive: true });
  const files = {
    train: path.join(dataDir, "train.tsv"),
    dev: path.join(dataDir, "dev.tsv"),
    test: path.join(dataDir, "test.tsv"),
  };
  const lines = generated.lines.map((l) => `${l}\n`);
  writeFileAtomic(files.train, lines.slice(0, trainSize).join(""));
  writeFileAtomic(files.dev, lines.slice(trainSize, trainSize + heldOut).join(""));
  writeFileAtomic(files.test, lines.slice(trainSize + heldOut).join(""));
  say(
    `generated ListOps: ${trainSize} train, ${heldOut} dev, ${heldOut} test expressions (up to ${maxLength} tokens) in ${dataDir}`,
  );

  const runDir = path.join(f.out, "run");
  const options = defaultTrainOptions({
    task: "listops",
    train: files.train,
    dev: files.dev,
    out: runDir,
    model,
    epochs,
    seed,
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
  });
  const { rmSync } = await import("node:fs");
  rmSync(runDir, { recursive: true, force: true });
  say(`training ${model} (hidden 128, tracker 32) for ${epochs} epochs...`);
  const progress = makeProgress(!f.json);
  const result = await train(options, {
    log: (m) => progress.log(m),
    onStep: epochBars(progress, epochs),
    onEval: (e) => progress.log(`after epoch ${e.epoch}: dev accuracy ${(100 * e.devAccuracy).toFixed(2)}%`),
  });
  progress.stop();

  const loaded = loadModelDir(runDir);
  try {
    const test = await readTaskData(files.test, "listops");
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
    if (f.json) {
      process.stdout.write(
        `${JSON.stringify({
          task: "listops (generated)",
          model,
          train_examples: trainSize,
          test_examples: report.examples,
          epochs,
          steps: result.steps,
          best_dev_accuracy: result.bestDevAccuracy,
          test_accuracy: report.accuracy,
          seconds: result.seconds,
          model_dir: loaded.dir,
        })}\n`,
      );
    }
  } finally {
    loaded.model.dispose();
  }
  if (result.bestDevAccuracy === null) throw new UserError("training ended before any evaluation");
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "The embedded default job: generate ListOps data, train SPINN-PI on it, report held-out test accuracy with a few trees, save the model.",
    )
    .option("--out <dir>", "where data, run and model go", "runs/demo")
    .option("--seed <n>", "seed for data, initialisation and batch order", "1")
    .option("--train-size <n>", "training expressions", "20000")
    .option("--epochs <n>", "training epochs", "6")
    .option("--max-length <n>", "longest expression, in tokens without brackets", "40")
    .option("--model <kind>", "encoder to train", "spinn-pi")
    .option("--json", "print only a JSON summary line")
    .addHelpText(
      "after",
      "\nExamples:\n  spinn demo\n  spinn demo --train-size 2000 --epochs 2 --json\n  spinn demo --model lstm",
    )
    .action(runDemo);
}
