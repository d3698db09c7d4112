// Flags are checked by one mechanism in every command (src/cli/flags.ts): a bad value is one line
// naming the flag, exit code 2, before the command runs; --help shows the choices and the code's
// defaults; values arrive typed. And `--data -` reads the data from stdin.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Command, Option } from "commander";
import { DEFAULT_BENCH } from "../../src/benchmark/options.js";
import { buildProgram } from "../../src/cli/program.js";
import { DEFAULT_EVAL_BATCH_TOKENS, DEFAULT_TRAIN_BATCH_TOKENS } from "../../src/data/batching.js";
import { STDIN } from "../../src/data/lines.js";
import { DEFAULT_INPUT_LIMITS } from "../../src/inference/input-limits.js";
import { MODEL_SIZES } from "../../src/models/sizes.js";
import { TRAIN_DEFAULTS } from "../../src/training/options.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-flags-"));

function spinn(args: string[], input = "") {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", input });
}

/** Every sub-command (nested ones too), with its path: "train", "data stats", ... */
function commands(c: Command = buildProgram(), prefix = ""): [string, Command][] {
  return c.commands.flatMap((sub) => {
    const name = `${prefix}${sub.name()}`;
    return [[name, sub] as [string, Command], ...commands(sub, `${name} `)];
  });
}

function optionOf(command: string, flag: string): Option {
  const found = commands().find(([name]) => name === command)?.[1];
  const option = found?.options.find((o) => o.long === flag);
  assert.ok(option, `${command} ${flag}`);
  return option;
}

describe("a bad flag value: one line naming the flag, exit code 2, before anything runs", () => {
  const missing = path.join(dir, "missing.tsv");
  // Each kind of parser, in at least two commands. None of these commands gets far enough to
  // need its other flags (a model, data): the value is refused while the line is parsed.
  const cases: [string, string[], string][] = [
    ["int", ["train", "--out", dir, "--epochs", "two"], '--epochs must be an integer >= 1, got "two"'],
    ["int", ["eval", "--batch-size", "0"], '--batch-size must be an integer >= 1, got "0"'],
    [
      "int",
      ["listops", "generate", "--out", "-", "--count", "1.5"],
      '--count must be an integer >= 1, got "1.5"',
    ],
    ["int", ["demo", "--train-size", "50"], '--train-size must be an integer >= 100, got "50"'],
    [
      "int range",
      ["bench", "--synthetic", "5", "--length", "10,2000"],
      '--length must be an integer in [1, 1000], got "2000"',
    ],
    [
      "number",
      ["train", "--out", dir, "--lr-decay", "1.5"],
      '--lr-decay must be a number in [0, 1], got "1.5"',
    ],
    ["number", ["train", "--out", dir, "--lr", "0"], '--lr must be a number > 0, got "0"'],
    ["number", ["train", "--out", dir, "--clip", "-1"], '--clip must be a number >= 0, got "-1"'],
    [
      "number",
      ["train", "--out", dir, "--ppo-clip", "0"],
      '--ppo-clip must be a number in (0, 0.999999], got "0"',
    ],
    ["number", ["bench", "--embed-dropout", "1"], '--embed-dropout must be a number in [0, 0.99], got "1"'],
    [
      "choice",
      ["train", "--out", dir, "--optimizer", "adamw"],
      '--optimizer must be one of rmsprop, adam, sgd, got "adamw"',
    ],
    [
      "choice",
      ["demo", "--model", "treelstm"],
      '--model must be one of spinn-pi-nt, spinn-pi, spinn, rl-spinn, lstm, bilstm, cbow, got "treelstm"',
    ],
    [
      "choice",
      ["data", "stats", "--data", "-", "--format", "csv"],
      '--format must be one of nli-jsonl, nli-txt, listops, got "csv"',
    ],
    ["file", ["train", "--out", dir, "--train", missing], `--train: no such file: ${missing}`],
    ["file", ["eval", "--data", missing], `--data: no such file: ${missing}`],
    ["file", ["train", "--out", dir, "--dev", "-"], "--dev takes a file, not - (stdin)"],
    ["file", ["bench", "--data", dir], `--data: not a file: ${dir}`],
    ["file", ["predict", "--input", missing], `--input: no such file: ${missing}`],
    ["device", ["eval", "--device", "gpu"], '--device must be cpu, cuda or cuda:N, got "gpu"'],
    ["device", ["predict", "--device", "gpu"], '--device must be cpu, cuda or cuda:N, got "gpu"'],
    ["device", ["parse", "--device", "cuda:x"], '--device must be cpu, cuda or cuda:N, got "cuda:x"'],
    ["device", ["train", "--out", dir, "--device", "tpu"], '--device must be cpu, cuda or cuda:N, got "tpu"'],
    ["device", ["bench", "--device", "cuda0"], '--device must be cpu, cuda or cuda:N, got "cuda0"'],
  ];
  for (const [kind, args, message] of cases) {
    test(`${kind}: spinn ${args.join(" ")}`, () => {
      const r = spinn(args);
      assert.equal(r.stderr, `spinn: ${message}\n`);
      assert.equal(r.status, 2);
      assert.equal(r.stdout, "");
    });
  }

  test("a flag without its value, or a missing required one, is a usage error (exit code 2)", () => {
    const r = spinn(["eval", "--model", "listops-pi"]);
    assert.equal(r.stderr, "spinn: required option '--data <file>' not specified (see --help)\n");
    assert.equal(r.status, 2);
  });
});

describe("every flag goes through flags.ts", () => {
  test("every option that takes a value has a parser, except paths the command writes or model directories", () => {
    const free: string[] = [];
    for (const [name, command] of commands()) {
      for (const o of command.options) {
        if (!(o.required || o.optional) || o.parseArg) continue;
        // Where output goes, and model directories (loadModelDir says what is wrong with one).
        if (/<dir>$/.test(o.flags) || o.long === "--out" || o.long === "--report") continue;
        free.push(`spinn ${name} ${o.flags}`);
      }
    }
    assert.deepEqual(free, [], "make these with the option builders of src/cli/flags.ts");
  });

  test("values arrive typed: numbers, device names, STDIN for -", () => {
    assert.equal(optionOf("eval", "--batch-size").parseArg!("64", undefined), 64);
    assert.equal(optionOf("train", "--lr").parseArg!("2e-3", undefined), 0.002);
    assert.equal(optionOf("predict", "--device").parseArg!("cuda:1", undefined), "cuda:1");
    assert.equal(optionOf("eval", "--data").parseArg!("-", undefined), STDIN);
    assert.deepEqual(optionOf("bench", "--length").parseArg!("10,100", undefined), [10, 100]);
  });
});

describe("--help shows choices and the code's defaults", () => {
  /** The help text of one flag: its line and the wrapped lines under it, as one line. */
  function helpOf(args: string[], flag: string): string {
    const r = spinn([...args, "--help"]);
    assert.equal(r.status, 0);
    const lines = r.stdout.split("\n");
    const at = lines.findIndex((l) => l.trimStart().startsWith(`${flag} `));
    assert.ok(at >= 0, `${args.join(" ")} --help has ${flag}`);
    const rest = lines.slice(at + 1);
    const end = rest.findIndex((l) => /^\s*-/.test(l) || l.trim() === "");
    return [lines[at]!, ...rest.slice(0, end)].map((l) => l.trim()).join(" ");
  }

  test("train", () => {
    const train = ["train"];
    assert.match(helpOf(train, "--optimizer"), /\(choices: "rmsprop", "adam", "sgd", default: "rmsprop"\)$/);
    assert.match(helpOf(train, "--epochs"), new RegExp(`\\(default: ${TRAIN_DEFAULTS.epochs}\\)$`));
    assert.match(helpOf(train, "--lr-decay"), new RegExp(`\\(default: ${TRAIN_DEFAULTS.lrDecay}\\)$`));
    assert.match(helpOf(train, "--baseline"), /default: "self-critical"\)$/);
    assert.match(helpOf(train, "--device"), /\(default: "cpu"\)$/);
    assert.match(helpOf(train, "--d-hidden"), new RegExp(`\\(default: ${MODEL_SIZES.dHidden.default}\\)$`));
    assert.match(helpOf(train, "--max-length"), /\(default: 0, no limit\)$/);
    assert.match(
      helpOf(train, "--batch-tokens"),
      new RegExp(`\\(default: ${DEFAULT_TRAIN_BATCH_TOKENS}\\)$`),
    );
  });

  test("eval, predict, parse, bench, demo, data", () => {
    assert.match(
      helpOf(["eval"], "--batch-tokens"),
      new RegExp(`\\(default: ${DEFAULT_EVAL_BATCH_TOKENS}\\)$`),
    );
    assert.match(helpOf(["eval"], "--model"), /\(choices: "listops-pi", "listops-rl", "snli-spinn"\)$/);
    assert.match(
      helpOf(["predict"], "--max-tokens"),
      new RegExp(`\\(default: ${DEFAULT_INPUT_LIMITS.maxTokens}\\)$`),
    );
    assert.match(helpOf(["parse"], "--input"), /\(default: stdin\)$/);
    assert.match(helpOf(["bench"], "--steps"), new RegExp(`\\(default: ${DEFAULT_BENCH.steps}\\)$`));
    assert.match(
      helpOf(["bench"], "--batch-tokens"),
      new RegExp(`\\(default: ${DEFAULT_TRAIN_BATCH_TOKENS}\\)$`),
    );
    assert.match(helpOf(["bench"], "--model"), /choices: "spinn-pi-nt", .*, default: "spinn-pi"\)$/);
    assert.match(helpOf(["demo"], "--epochs"), /\(default: 6\)$/);
    assert.match(helpOf(["data", "stats"], "--format"), /\(choices: "nli-jsonl", "nli-txt", "listops"\)$/);
    assert.match(helpOf(["listops", "generate"], "--max-depth"), /\(default: 20\)$/);
  });
});

describe("--data - reads the data from stdin", () => {
  const data = "9\t[MAX 2 9 [MIN 4 7 ] 0 ]\n1\t[SM 3 [MAX 4 8 ] ]\n4\t[MIN 4 [MAX 2 5 ] ]\n";

  test("eval --data -: the same figures as from the file, the data named <stdin>", () => {
    const file = path.join(dir, "eval.tsv");
    writeFileSync(file, data);
    const fromFile = spinn(["eval", "--model", "listops-pi", "--data", file, "--json"]);
    assert.equal(fromFile.status, 0, fromFile.stderr);
    const fromStdin = spinn(["eval", "--model", "listops-pi", "--data", "-", "--json"], data);
    assert.equal(fromStdin.status, 0, fromStdin.stderr);
    const a = JSON.parse(fromFile.stdout);
    const b = JSON.parse(fromStdin.stdout);
    assert.equal(b.data, "<stdin>");
    assert.equal(b.examples, 3);
    assert.deepEqual({ ...b, data: a.data }, a);
  });

  test("eval --data -: a bad line is named <stdin>:LINE; --lenient skips it and says why", () => {
    const bad = `${data}3\t[MAX 3 ] ]\n`;
    const strict = spinn(["eval", "--model", "listops-pi", "--data", "-"], bad);
    assert.equal(strict.status, 2);
    assert.equal(strict.stdout, "");
    assert.match(strict.stderr, /^spinn: <stdin>:4: expression: /);
    const lenient = spinn(["eval", "--model", "listops-pi", "--data", "-", "--lenient"], bad);
    assert.equal(lenient.status, 0, lenient.stderr);
    assert.match(lenient.stdout, /^accuracy [\d.]+% on 3 examples/);
    assert.match(
      lenient.stdout,
      /^<stdin>: skipped 1 invalid line \(--lenient\):\n {2}<stdin>:4: expression: /m,
    );
  });

  test("data stats --data -", () => {
    const r = spinn(["data", "stats", "--data", "-", "--json"], data);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.file, "<stdin>");
    assert.equal(s.task, "listops");
    assert.equal(s.examples, 3);
  });
});
