// A small ListOps training run for the web tests, trained by the real `spinn train` (about a
// second): 2 epochs of 63 batches with dev every 10 steps, so its metrics.jsonl has train, epoch
// and eval lines.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateListOps } from "../../src/data/listops-generate.js";
import { repoRoot } from "../data/helpers.js";

export const cli = path.join(repoRoot, "dist", "src", "cli", "main.js");

export function spinn(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
}

/** Writes train.tsv and dev.tsv into `dir`. */
export function writeListOps(dir: string): { train: string; dev: string } {
  mkdirSync(dir, { recursive: true });
  const { lines } = generateListOps({ count: 300, seed: 3, maxLength: 10 });
  const train = path.join(dir, "train.tsv");
  const dev = path.join(dir, "dev.tsv");
  writeFileSync(train, `${lines.slice(0, 250).join("\n")}\n`);
  writeFileSync(dev, `${lines.slice(250).join("\n")}\n`);
  return { train, dev };
}

export const tinySizes = [
  "--d-embed",
  "16",
  "--d-hidden",
  "16",
  "--d-tracker",
  "8",
  "--d-mlp",
  "16",
  "--n-mlp",
  "1",
];

/** Trains run `out` on the data in `dataDir` for `epochs` epochs (spinn train, checked). */
export function trainRun(dataDir: string, out: string, epochs = 2): void {
  const { train, dev } = writeListOps(dataDir);
  const r = spinn([
    "train",
    ...["--task", "listops", "--train", train, "--dev", dev, "--model", "spinn-pi", "--out", out],
    ...[
      "--epochs",
      String(epochs),
      "--batch-size",
      "4",
      "--eval-every",
      "10",
      "--seed",
      "5",
      ...tinySizes,
      "--json",
    ],
  ]);
  assert.equal(r.status, 0, r.stderr);
}
