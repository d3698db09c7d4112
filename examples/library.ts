// The library in a few lines: make ListOps data, train SPINN-PI on it, load the best model and
// predict. (The README shows this file; test/training/30-library.test.ts runs it.)
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defaultTrainOptions, generateListOps, loadModelDir, predictListOps, train } from "../src/index.js";

const dir = mkdtempSync(path.join(tmpdir(), "listops-"));
const { lines } = generateListOps({ count: 600, seed: 1, maxLength: 10 });
writeFileSync(path.join(dir, "train.tsv"), `${lines.slice(0, 500).join("\n")}\n`);
writeFileSync(path.join(dir, "dev.tsv"), `${lines.slice(500).join("\n")}\n`);

const result = await train(
  defaultTrainOptions({
    task: "listops",
    model: "spinn-pi",
    out: path.join(dir, "run"),
    train: path.join(dir, "train.tsv"),
    dev: path.join(dir, "dev.tsv"),
    epochs: 2,
    dEmbed: 32,
    dHidden: 32,
    dMlp: 64,
    nMlp: 1,
    optimizer: "adam",
  }),
);
console.log(`best dev accuracy ${result.bestDevAccuracy}`);

const loaded = loadModelDir(result.out);
const [first] = predictListOps(loaded, ["[MAX 3 [MIN 4 7 ] 0 ]"]);
console.log(`[MAX 3 [MIN 4 7 ] 0 ]: predicted ${first!.label} (p = ${first!.probabilities[first!.label]})`);
console.log(`the tree it composed along: ${first!.trees.expression}`);
loaded.model.dispose();
