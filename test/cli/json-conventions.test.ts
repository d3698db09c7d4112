// CLI conventions for output and files, the same in every command: --json puts only JSON on
// stdout (human text on stderr), every JSON key is snake_case, "-" is stdin or stdout, and a
// problem with a whole file names the file without a line number.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { snakeCase, snakeKeys } from "../../src/cli/json-output.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const small = ["--d-embed", "8", "--d-hidden", "8", "--d-tracker", "4", "--d-mlp", "8", "--n-mlp", "1"];

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), "spinn-json-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function spinn(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: dir, input: input ?? "" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Maps keyed by data (labels, native function names): their keys are not field names. */
const DATA_KEYED = new Set(["labels", "probabilities", "genres", "native_calls_by_name_per_train_step"]);

/** Every key of a JSON value, at any depth, outside the data-keyed maps. */
function keysOf(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) keysOf(v, into);
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      into.push(k);
      if (!DATA_KEYED.has(k)) keysOf(v, into);
    }
  }
  return into;
}

/** stdout is JSON lines only, and every key in them is snake_case; returns the parsed lines. */
// biome-ignore lint/suspicious/noExplicitAny: the JSON lines are checked field by field
function jsonLines(stdout: string): any[] {
  assert.ok(stdout.endsWith("\n"), `stdout: ${JSON.stringify(stdout)}`);
  const lines = stdout
    .slice(0, -1)
    .split("\n")
    .map((l) => JSON.parse(l));
  const bad = keysOf(lines).filter((k) => !/^[a-z0-9]+(_[a-z0-9]+)*$/.test(k));
  assert.deepEqual(bad, [], "keys not in snake_case");
  return lines;
}

test("snakeKeys converts keys at any depth, and leaves data-keyed maps and values alone", () => {
  assert.equal(snakeCase("bestDevAccuracy"), "best_dev_accuracy");
  assert.equal(snakeCase("macroF1"), "macro_f1");
  assert.equal(snakeCase("f1VsGold"), "f1_vs_gold");
  assert.equal(snakeCase("macro_f1"), "macro_f1");
  assert.deepEqual(
    snakeKeys({
      trainExamples: 3,
      skipped: { noGoldLabel: 1 },
      perClass: [{ label: "entailment", f1: 0.5 }],
      probabilities: { someLabel: 0.25 },
      native_calls_by_name_per_train_step: { batchedLinear: 2 },
      missing: ["fooBar"],
      tree: null,
    }),
    {
      train_examples: 3,
      skipped: { no_gold_label: 1 },
      per_class: [{ label: "entailment", f1: 0.5 }],
      probabilities: { someLabel: 0.25 },
      native_calls_by_name_per_train_step: { batchedLinear: 2 },
      missing: ["fooBar"],
      tree: null,
    },
  );
});

describe("data stats and listops generate", () => {
  test("data stats --json: one JSON line on stdout, snake_case keys, the report on stderr", () => {
    const data = path.join(dir, "stats.jsonl");
    writeFileSync(
      data,
      `${JSON.stringify({ gold_label: "-", sentence1: "a b", sentence2: "a" })}\n` +
        `${JSON.stringify({ gold_label: "neutral", sentence1: "The dog.", sentence2: "A cat." })}\n{bad\n`,
    );
    const r = spinn(["data", "stats", "--data", data, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const [s, ...rest] = jsonLines(r.stdout);
    assert.equal(rest.length, 0);
    assert.equal(s.command, "data stats");
    assert.deepEqual(s.skipped, { no_gold_label: 1, invalid: 1 });
    assert.equal(s.parse_errors.count, 1);
    assert.equal(typeof s.read_seconds, "number");
    assert.equal(s.without_parse, 1);
    assert.match(r.stderr, /^file: .*stats\.jsonl \(nli-jsonl\)\n/);
    assert.match(r.stderr, /parse errors: 1 \(lines skipped\)/);
  });

  test("listops generate --json: one JSON line on stdout, snake_case keys, the report on stderr", () => {
    const out = path.join(dir, "gen.tsv");
    const r = spinn(["listops", "generate", "--count", "20", "--seed", "3", "--out", out, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const [s, ...rest] = jsonLines(r.stdout);
    assert.equal(rest.length, 0);
    assert.equal(s.command, "listops generate");
    assert.equal(s.count, 20);
    assert.equal(s.settings.min_length, 2);
    assert.equal(s.settings.max_length, null);
    assert.equal(s.settings.operator_probability, 0.25);
    assert.equal(typeof s.out_of_range, "number");
    assert.match(r.stderr, /^wrote 20 examples to .*gen\.tsv \(seed 3\)/);
  });

  test("listops generate --out -: the data on stdout, the report on stderr, no file named -", () => {
    const r = spinn(["listops", "generate", "--count", "5", "--seed", "3", "--out", "-"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 5);
    for (const l of lines) assert.match(l, /^\d\t/);
    assert.match(r.stderr, /^wrote 5 examples to stdout \(seed 3\)/);
    assert.equal(existsSync(path.join(dir, "-")), false);
    // The same data as a file.
    const file = path.join(dir, "five.tsv");
    assert.equal(spinn(["listops", "generate", "--count", "5", "--seed", "3", "--out", file]).code, 0);
    assert.equal(spawnSync("cat", [file], { encoding: "utf8" }).stdout, r.stdout);

    const both = spinn(["listops", "generate", "--count", "5", "--out", "-", "--json"]);
    assert.equal(both.code, 2);
    assert.equal(both.stdout, "");
    assert.equal(both.stderr, "spinn: --out - and --json both write to stdout: give --out a file\n");
  });

  test("a missing file names its flag and path (--data: no such file: FILE); a bad line keeps FILE:LINE", () => {
    const missing = path.join(dir, "missing.tsv");
    const r = spinn(["data", "stats", "--data", missing]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `spinn: --data: no such file: ${missing}\n`);
    const bad = path.join(dir, "bad.tsv");
    writeFileSync(bad, "hello\n");
    const b = spinn(["data", "stats", "--data", bad]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /^spinn: .*bad\.tsv:1: cannot tell the format/);
  });
});

describe("commands that run a model", () => {
  const expressions = "[MAX 2 9 [MIN 4 7 ] 0 ]\n[SM 3 [MAX 4 8 ] ]\n";
  let data: string;
  before(() => {
    data = path.join(dir, "eval.tsv");
    writeFileSync(data, "9\t[MAX 2 9 [MIN 4 7 ] 0 ]\n1\t[SM 3 [MAX 4 8 ] ]\n");
  });

  test("eval --json: one JSON line, snake_case keys (per_class, macro_f1, no_gold_label, f1_vs_gold)", () => {
    const r = spinn(["eval", "--model", "listops-rl", "--data", data, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const [s, ...rest] = jsonLines(r.stdout);
    assert.equal(rest.length, 0);
    assert.equal(s.examples, 2);
    assert.equal(typeof s.macro_f1, "number");
    assert.deepEqual(s.skipped, { no_gold_label: 0, invalid: 0 });
    assert.ok("f1_vs_gold" in s.trees && "transition_accuracy" in s.trees && "left_branching" in s.trees);
    assert.equal(r.stderr, "");
  });

  test("eval --report -: the report lines on stdout, the summary on stderr; with --json refused", () => {
    const r = spinn(["eval", "--model", "listops-rl", "--data", data, "--report", "-"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.equal(lines.length, 2);
    assert.deepEqual(Object.keys(lines[0]), ["id", "gold", "predicted", "probabilities", "trees"]);
    assert.match(r.stderr, /accuracy/);
    assert.equal(existsSync(path.join(dir, "-")), false);

    const both = spinn(["eval", "--model", "listops-rl", "--data", data, "--report", "-", "--json"]);
    assert.equal(both.code, 2);
    assert.equal(both.stdout, "");
    assert.equal(both.stderr, "spinn: --report - and --json both write to stdout: give --report a file\n");
  });

  test("predict and parse: --input - reads stdin, like no --input", () => {
    const input = '{"sentence": "[MAX 2 9 [MIN 4 7 ] 0 ]"}\n';
    const p = spinn(["predict", "--model", "listops-rl", "--input", "-"], input);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout, spinn(["predict", "--model", "listops-rl"], input).stdout);
    const [line] = jsonLines(p.stdout);
    assert.match(line.label, /^\d$/);

    const j = spinn(["parse", "--model", "listops-rl", "--input", "-", "--json"], expressions);
    assert.equal(j.code, 0, j.stderr);
    const trees = jsonLines(j.stdout);
    assert.equal(trees.length, 2);
    assert.deepEqual(Object.keys(trees[0]), ["tokens", "tree"]);
    assert.equal(j.stderr, "");

    const missing = spinn(["parse", "--model", "listops-rl", "--input", path.join(dir, "nope.txt")]);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, `spinn: --input: no such file: ${path.join(dir, "nope.txt")}\n`);
  });
});

describe("train, demo and bench", () => {
  test("train --json: one JSON line (train_examples, best_dev_accuracy, vocabulary_size)", () => {
    const file = path.join(dir, "train.tsv");
    assert.equal(spinn(["listops", "generate", "--count", "40", "--seed", "5", "--out", file]).code, 0);
    const r = spinn([
      "train",
      "--task",
      "listops",
      "--train",
      file,
      "--dev",
      file,
      "--model",
      "spinn-pi",
      "--out",
      path.join(dir, "run"),
      "--epochs",
      "1",
      "--batch-size",
      "16",
      ...small,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [s, ...rest] = jsonLines(r.stdout);
    assert.equal(rest.length, 0);
    assert.equal(s.train_examples, 40);
    assert.equal(s.dev_examples, 40);
    assert.ok(s.best_dev_accuracy >= 0 && s.best_dev_accuracy <= 1);
    assert.equal(typeof s.vocabulary_size, "number");
    assert.equal(s.stopped_early, false);
  });

  test("demo --json: one JSON line, snake_case keys", () => {
    const r = spinn([
      "demo",
      "--out",
      path.join(dir, "demo"),
      "--train-size",
      "100",
      "--epochs",
      "1",
      "--max-length",
      "5",
      "--model",
      "cbow",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [s, ...rest] = jsonLines(r.stdout);
    assert.equal(rest.length, 0);
    assert.equal(s.train_examples, 100);
    assert.equal(typeof s.test_accuracy, "number");
  });

  test("bench: one JSON line, snake_case keys, the configuration's too", () => {
    const r = spinn([
      "bench",
      "--synthetic",
      "16",
      "--batch-size",
      "8",
      "--steps",
      "2",
      "--warmup",
      "0",
      "--eval-batches",
      "1",
      ...small,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [b, ...rest] = jsonLines(r.stdout);
    assert.equal(rest.length, 0);
    assert.equal(b.config.batch_size, 8);
    assert.equal(b.config.eval_batches, 1);
  });
});
