// ListOps training options. --curriculum: short examples first, all of them later; the epochs'
// step counts follow from the data, and a resume must keep the curriculum it was started with.
// --subtree-weight: only for models that compose along the given trees.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-curriculum-"));

function spinn(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
}

// 6 expressions of 4 tokens and 2 of 27 tokens.
const lines = [
  ...Array.from({ length: 6 }, (_, i) => `${Math.max(i, 9 - i)}\t[MAX ${i} ${9 - i} ]`),
  `5\t[SM ${"1 ".repeat(25)}]`,
  `9\t[MAX ${"9 ".repeat(25)}]`,
];
const data = path.join(dir, "listops.tsv");
writeFileSync(data, `${lines.join("\n")}\n`);
const small = ["--d-embed", "8", "--d-hidden", "8", "--d-tracker", "4", "--d-mlp", "8", "--n-mlp", "1"];
const train = (out: string, ...flags: string[]) =>
  spinn([
    "train",
    ...["--task", "listops", "--train", data, "--dev", data, "--model", "spinn-pi-nt", "--out", out],
    ...["--batch-size", "2", ...small, "--json", ...flags],
  ]);

test("epoch k trains on the examples of at most the k-th length, later epochs on all", () => {
  const out = path.join(dir, "run");
  const r = train(out, "--epochs", "4", "--curriculum", "4x2,26");
  assert.equal(r.status, 0, r.stderr);
  const epochs = readFileSync(path.join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((m) => m.type === "epoch")
    .map((m) => m.step);
  // 6 short examples in batches of 2: 3 steps in each of epochs 1–3 (the long ones are 27
  // tokens, over 26); then all 8: 4 steps.
  assert.deepEqual(epochs, [3, 6, 9, 13]);
  assert.equal(JSON.parse(r.stdout.trim().split("\n").at(-1)!).steps, 13);

  // A resume may not change the curriculum; the same one is accepted.
  const changed = train(out, "--epochs", "5", "--curriculum", "4", "--resume");
  assert.equal(changed.status, 2);
  assert.match(changed.stderr, /--curriculum 4 differs from the saved run's 4,4,26/);
  const same = train(out, "--epochs", "5", "--curriculum", "4x2,26", "--resume");
  assert.equal(same.status, 0, same.stderr);
  assert.equal(JSON.parse(same.stdout.trim().split("\n").at(-1)!).steps, 17);
});

test("curriculum errors: a bad list, or a length no example fits", () => {
  const bad = train(path.join(dir, "bad"), "--curriculum", "40x,100");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--curriculum must be lengths in tokens, one per epoch/);
  const none = train(path.join(dir, "none"), "--curriculum", "3,100");
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no training example of at most 3 tokens \(--curriculum\)/);
});

test("--subtree-weight trains SPINN-PI-NT on the sub-lists' values; other models refuse it", () => {
  const out = path.join(dir, "subtrees");
  const r = train(out, "--epochs", "1", "--subtree-weight", "1");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim().split("\n").at(-1)!).steps, 4);
  const rl = spinn([
    "train",
    ...["--task", "listops", "--train", data, "--dev", data, "--model", "rl-spinn"],
    ...["--out", path.join(dir, "rl"), "--subtree-weight", "1"],
  ]);
  assert.equal(rl.status, 2);
  assert.match(rl.stderr, /--subtree-weight applies to ListOps models that compose along the given trees/);
});
