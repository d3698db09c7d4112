// A dev or eval file with no labelled example is an error naming the file, not "0% (best so
// far, saved)": nothing is trained or written.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-nolabel-"));
const tiny = ["--d-embed", "16", "--d-hidden", "16", "--d-tracker", "8", "--d-mlp", "16", "--n-mlp", "1"];

function spinn(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
}

function pairs(label: string, n: number): string {
  const pair = {
    gold_label: label,
    sentence1: "A dog runs .",
    sentence2: "The dog runs .",
    sentence1_binary_parse: "( ( A dog ) ( runs . ) )",
    sentence2_binary_parse: "( ( The dog ) ( runs . ) )",
  };
  return Array.from({ length: n }, () => `${JSON.stringify(pair)}\n`).join("");
}

const labelled = path.join(dir, "labelled.jsonl");
const unlabelled = path.join(dir, "unlabelled.jsonl");
writeFileSync(labelled, pairs("neutral", 6));
writeFileSync(unlabelled, pairs("-", 5));

function assertOneLine(r: ReturnType<typeof spinn>, message: string) {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `spinn: ${message}\n`);
}

test("train refuses a dev file without a labelled example, before writing anything", () => {
  const out = path.join(dir, "run");
  const args = ["--task", "nli", "--train", labelled, "--model", "spinn-pi", "--out", out, ...tiny];
  const r = spinn("train", ...args, "--dev", unlabelled);
  assertOneLine(
    r,
    `${unlabelled}: no labelled example to evaluate on (--dev) (skipped: 5 without a gold label ("-"))`,
  );
  assert.ok(!existsSync(out), "no run directory");
  // ListOps: every dev expression is longer than --max-length (4 tokens in train, 6 in dev).
  const train = path.join(dir, "lo-train.tsv");
  const dev = path.join(dir, "lo-dev.tsv");
  writeFileSync(train, "3\t( ( ( [MAX 2 ) 3 ) ] )\n2\t( ( ( [MIN 9 ) 2 ) ] )\n");
  writeFileSync(dev, "3\t( ( ( ( ( [MAX 2 ) 3 ) 1 ) 0 ) ] )\n");
  const lo = ["--task", "listops", "--train", train, "--dev", dev, "--model", "lstm", "--out", out, ...tiny];
  const r2 = spinn("train", ...lo, "--max-length", "5");
  assert.equal(r2.status, 2, r2.stderr);
  assert.equal(
    r2.stderr.trim().split("\n").at(-1),
    `spinn: ${dev}: no labelled example to evaluate on (--dev) (skipped: any longer than --max-length 5)`,
  );
  assert.ok(!existsSync(out), "no run directory");
});

test("eval refuses a file without a labelled example", () => {
  const out = path.join(dir, "ok");
  const t = spinn(
    "train",
    "--task",
    "nli",
    "--train",
    labelled,
    "--dev",
    labelled,
    "--model",
    "spinn-pi",
    "--out",
    out,
    ...tiny,
  );
  assert.equal(t.status, 0, t.stderr);
  const r = spinn("eval", "--model-dir", out, "--data", unlabelled);
  assertOneLine(
    r,
    `${unlabelled}: no labelled example to evaluate on (skipped: 5 without a gold label ("-"))`,
  );
  assert.equal(r.stdout, "");
});
