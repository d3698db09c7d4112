#!/usr/bin/env node
// Ships a trained model as pretrained/<name>/: copies the run's best model, keeps the first lines
// of the held-out test file as a small evaluation sample, measures the model with `spinn eval` on
// the test file and on the sample, and writes the model card (card.json for programs, CARD.md for
// people) from those measurements, so that every figure on the card comes from the commands it
// gives. test/models/pretrained.test.ts checks the sample figure against the model.
//
//   node scripts/ship-model.mjs --spec pretrained-specs/<name>.json
//
// The spec (JSON) says: name, summary, run (the training run directory), test (file), sample
// (lines kept), data {train, dev, test} (descriptions), commands (as run), seed, and the training
// summary file (`spinn train --json` output) for the run's time and best dev accuracy.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist/src/cli/main.js");

function evalJson(modelDir, data) {
  const out = execFileSync(
    process.execPath,
    [cli, "eval", "--model-dir", modelDir, "--data", data, "--json"],
    {
      encoding: "utf8",
    },
  );
  return JSON.parse(out.trim().split("\n").pop());
}

function main() {
  const specFile = process.argv[process.argv.indexOf("--spec") + 1];
  if (!specFile || !process.argv.includes("--spec")) throw new Error("usage: ship-model.mjs --spec FILE");
  const spec = JSON.parse(readFileSync(specFile, "utf8"));
  const dir = path.join(root, "pretrained", spec.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const best = path.join(spec.run, "best");
  for (const f of readdirSync(best)) copyFileSync(path.join(best, f), path.join(dir, f));

  const ext = path.extname(spec.test);
  const sampleFile = `sample${ext}`;
  const lines = readFileSync(spec.test, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  writeFileSync(path.join(dir, sampleFile), `${lines.slice(0, spec.sample).join("\n")}\n`);

  const test = evalJson(dir, spec.test);
  const sample = evalJson(dir, path.join(dir, sampleFile));
  const trained = JSON.parse(readFileSync(spec.trainSummary, "utf8").trim().split("\n").pop());
  const config = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")).model;
  const card = {
    name: spec.name,
    task: config.task,
    encoder: config.encoder,
    summary: spec.summary,
    data: spec.data,
    commands: spec.commands,
    seed: spec.seed,
    test: { examples: test.examples, accuracy: test.accuracy, treeF1: test.trees?.f1_vs_gold ?? null },
    // `spinn train --json` summaries: snake_case keys (camelCase before the CLI's JSON was unified).
    bestDevAccuracy: trained.best_dev_accuracy ?? trained.bestDevAccuracy,
    trainingSeconds: Math.round(trained.seconds),
    sample: { file: sampleFile, examples: sample.examples, accuracy: sample.accuracy },
    date: new Date().toISOString().slice(0, 10),
  };
  writeFileSync(path.join(dir, "card.json"), `${JSON.stringify(card, null, 2)}\n`);
  writeFileSync(path.join(dir, "CARD.md"), cardText(card, config, spec));
  console.log(JSON.stringify(card));
}

const pct = (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(2)}%`);

function cardText(card, config, spec) {
  // Only these encoders have a tracker LSTM (models/kinds.ts).
  const tracker = ["spinn-pi", "spinn", "rl-spinn"].includes(config.encoder)
    ? `, tracker ${config.dTracker}`
    : "";
  const sizes = `hidden ${config.dHidden}${tracker}, embeddings ${config.dEmbed}, MLP ${config.nMlp}×${config.dMlp}`;
  return `# ${card.name}

${card.summary}

| | |
|---|---|
| task | ${card.task} |
| encoder | ${card.encoder} (${sizes}) |
| training data | ${card.data.train} |
| model selection | ${card.data.dev} (best dev accuracy ${pct(card.bestDevAccuracy)}) |
| held-out test | ${card.data.test}: **${pct(card.test.accuracy)}** accuracy on ${card.test.examples} examples |
| trees | ${spec.treeNote ? spec.treeNote : `unlabeled bracketing F1 ${pct(card.test.treeF1)} against the test set's given trees`} |
| seed | ${card.seed} |
| training time | ${card.trainingSeconds} s on the 2-core development machine (CPU, shared with other work) |
| sample | \`${card.sample.file}\`: the first ${card.sample.examples} test examples, ${pct(card.sample.accuracy)} accuracy (checked by the tests) |
| date | ${card.date} |

Made with:

${card.commands.map((c) => `    ${c}`).join("\n")}

Measured with \`spinn eval --model ${card.name} --data <test file>\`.${spec.license ? `\n\n${spec.license}` : ""}
`;
}

main();
