// The train / eval / predict commands end to end on tiny data the test writes, and their errors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_TRAIN_BATCH_TOKENS } from "../../src/data/batching.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-cli-"));

function spinn(args: string[], input?: string) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", input });
}

// A tiny NLI set in SNLI's jsonl format: the label follows from the words, so it is learnable.
const pairs: string[] = [];
const labels = ["entailment", "neutral", "contradiction"];
const verbs = ["sleeps", "runs", "eats"];
for (let i = 0; i < 48; i++) {
  const label = labels[i % 3]!;
  const verb = verbs[i % 3]!;
  pairs.push(
    JSON.stringify({
      gold_label: label,
      pairID: `p${i}`,
      sentence1: `A dog ${verb} .`,
      sentence2: `The dog ${verb} .`,
      sentence1_binary_parse: `( ( A dog ) ( ${verb} . ) )`,
      sentence2_binary_parse: `( ( The dog ) ( ${verb} . ) )`,
    }),
  );
}
const nli = path.join(dir, "nli.jsonl");
writeFileSync(nli, `${pairs.join("\n")}\n`);
const small = ["--d-embed", "8", "--d-hidden", "8", "--d-tracker", "4", "--d-mlp", "8", "--n-mlp", "1"];

/** `spinn train --task nli` on the test's pairs (train and dev), with the given flags. */
function trainNli(...flags: string[]) {
  return spinn(["train", "--task", "nli", "--train", nli, "--dev", nli, ...flags]);
}

describe("train, eval, predict", () => {
  const run = path.join(dir, "run");
  test("train writes best and last models and ends with a JSON summary", () => {
    const r = trainNli(
      "--model",
      "spinn-pi",
      "--out",
      run,
      "--epochs",
      "2",
      "--batch-size",
      "8",
      ...small,
      "--json",
    );
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.equal(summary.steps, 12);
    assert.equal(summary.train_examples, 48);
    assert.ok(summary.best_dev_accuracy >= 0 && summary.best_dev_accuracy <= 1);
    const metrics = readFileSync(path.join(run, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      metrics.filter((m) => m.type === "eval").map((m) => m.epoch),
      [1, 2],
    );
  });

  test("a second train into the same directory is refused (use --resume)", () => {
    const r = trainNli("--model", "spinn-pi", "--out", run);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /already holds a training run: use --resume/);
  });

  test("eval reports accuracy, per-class figures and a per-example report", () => {
    const report = path.join(dir, "report.jsonl");
    const r = spinn(["eval", "--model-dir", run, "--data", nli, "--report", report, "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.examples, 48);
    assert.deepEqual(s.labels, labels);
    assert.equal(
      s.confusion.flat().reduce((a: number, b: number) => a + b, 0),
      48,
    );
    const lines = readFileSync(report, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 48);
    const right = lines.filter((l) => l.gold === l.predicted).length;
    assert.equal(right / 48, s.accuracy);
    assert.equal(lines[0].trees.premise, "( ( A dog ) ( sleeps . ) )");
    const p = Object.values(lines[0].probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(p - 1) < 1e-4);
  });

  test("predict reads JSON lines and writes label, probabilities and trees", () => {
    const input = `${JSON.stringify({ premise: "A dog runs .", hypothesis: "The dog runs .", premise_parse: "( ( A dog ) ( runs . ) )", hypothesis_parse: "( ( The dog ) ( runs . ) )" })}\n`;
    const r = spinn(["predict", "--model-dir", run], input);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(labels.includes(out.label));
    assert.deepEqual(Object.keys(out.probabilities), labels);
    assert.equal(out.trees.hypothesis, "( ( The dog ) ( runs . ) )");
    const pretty = spinn(["predict", "--model-dir", run, "--pretty"], input);
    assert.match(pretty.stdout, /premise:\n┐\n├─ ┐\n│ {2}├─ A\n/);
  });

  test("predict without parses explains that this model needs them", () => {
    const r = spinn(
      ["predict", "--model-dir", run],
      '{"premise": "A man plays.", "hypothesis": "A person plays."}\n',
    );
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /<stdin>:1: premise: no parse, and spinn-pi composes along given trees: add "premise_parse"/,
    );
  });

  test("fixed right-branching trees: no parses needed, and eval compares the trees with the parses", () => {
    const out = path.join(dir, "right");
    const t = trainNli(
      "--model",
      "spinn-pi",
      "--transitions",
      "right",
      "--out",
      out,
      "--epochs",
      "1",
      "--batch-size",
      "16",
      ...small,
      "--json",
    );
    assert.equal(t.status, 0, t.stderr);
    const e = spinn(["eval", "--model-dir", out, "--data", nli, "--json"]);
    assert.equal(e.status, 0, e.stderr);
    const s = JSON.parse(e.stdout);
    assert.equal(s.tree_source, "right");
    // (A (dog (sleeps .))) against ((A dog) (sleeps .)): spans {1:4, 2:4} vs {0:2, 2:4}, F1 1/2
    assert.equal(s.trees.f1_vs_gold, 0.5);
    assert.ok(Math.abs(s.trees.right_branching - 2 / 3) < 1e-12);
    // S S S S R R R against S S R S S R R: positions 0, 1, 3, 5 and 6 agree
    assert.equal(s.trees.transition_accuracy, 5 / 7);
    const p = spinn(
      ["predict", "--model-dir", out],
      '{"premise": "A dog runs.", "hypothesis": "The dog runs."}\n',
    );
    assert.equal(p.status, 0, p.stderr);
    assert.equal(JSON.parse(p.stdout).trees.premise, "( A ( dog ( runs . ) ) )");
    const bad = trainNli("--model", "lstm", "--transitions", "left", "--out", path.join(dir, "x"));
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--transitions left applies to spinn-pi and spinn-pi-nt, not lstm/);
  });

  test("full SPINN learns from parses, then parses raw text itself", () => {
    const out = path.join(dir, "full");
    const t = trainNli(
      "--model",
      "spinn",
      "--out",
      out,
      "--epochs",
      "1",
      "--batch-size",
      "16",
      ...small,
      "--json",
    );
    assert.equal(t.status, 0, t.stderr);
    const e = spinn(["eval", "--model-dir", out, "--data", nli, "--json"]);
    assert.equal(e.status, 0, e.stderr);
    const f1 = JSON.parse(e.stdout).trees.f1_vs_gold;
    assert.ok(f1 >= 0 && f1 <= 1);
    const p = spinn(
      ["predict", "--model-dir", out],
      '{"premise": "A dog runs fast.", "hypothesis": "The dog runs."}\n',
    );
    assert.equal(p.status, 0, p.stderr);
    const tree: string = JSON.parse(p.stdout).trees.premise;
    assert.deepEqual(tree.replace(/[()]/g, " ").trim().split(/\s+/), ["A", "dog", "runs", "fast", "."]);
    assert.equal((tree.match(/\(/g) ?? []).length, 4); // a binary tree over five words
  });

  test("RL-SPINN learns with no parses at all; parse prints its trees; eval compares two runs' trees", () => {
    // The same pairs with every parse removed.
    const raw = path.join(dir, "raw.jsonl");
    writeFileSync(
      raw,
      pairs
        .map((l) => {
          const { sentence1_binary_parse: _a, sentence2_binary_parse: _b, ...rest } = JSON.parse(l);
          return `${JSON.stringify(rest)}\n`;
        })
        .join(""),
    );
    const rl = (out: string, seed: string) =>
      spinn([
        "train",
        "--task",
        "nli",
        "--train",
        raw,
        "--dev",
        raw,
        "--model",
        "rl-spinn",
        "--baseline",
        "self-critical",
        "--entropy-weight",
        "0.01",
        "--seed",
        seed,
        "--out",
        out,
        "--epochs",
        "1",
        "--batch-size",
        "16",
        ...small,
        "--json",
      ]);
    const a = path.join(dir, "rl-a");
    const b = path.join(dir, "rl-b");
    for (const [out, seed] of [
      [a, "1"],
      [b, "2"],
    ] as const) {
      const t = rl(out, seed);
      assert.equal(t.status, 0, t.stderr);
      assert.equal(JSON.parse(t.stdout.trim().split("\n").at(-1)!).steps, 3);
    }
    const parsed = spinn(["parse", "--model-dir", a], "A dog runs fast.\nThe dog sleeps .\n");
    assert.equal(parsed.status, 0, parsed.stderr);
    const trees = parsed.stdout.trim().split("\n");
    assert.equal(trees.length, 2);
    assert.deepEqual(trees[0]!.replace(/[()]/g, " ").trim().split(/\s+/), ["A", "dog", "runs", "fast", "."]);
    assert.equal((trees[0]!.match(/\(/g) ?? []).length, 4); // a binary tree over five words
    const json = spinn(["parse", "--model-dir", a, "--json"], "A dog runs fast.\n");
    assert.equal(JSON.parse(json.stdout).tree, trees[0]);

    // Eval on the parsed data: F1 against the parses, and agreement with another run.
    const self = spinn(["eval", "--model-dir", a, "--data", nli, "--agree-with", a, "--json"]);
    assert.equal(self.status, 0, self.stderr);
    const s = JSON.parse(self.stdout);
    assert.equal(s.agreement.f1, 1); // a model agrees with itself
    assert.equal(s.agreement.sentences, 96); // 48 pairs × 2 sentences with a constituent to compare
    assert.ok(s.trees.f1_vs_gold >= 0 && s.trees.f1_vs_gold <= 1);
    const other = spinn(["eval", "--model-dir", a, "--data", nli, "--agree-with", b]);
    assert.equal(other.status, 0, other.stderr);
    assert.match(
      other.stdout,
      /agreement with .*rl-b.*: unlabeled F1 between the two models' trees \d+\.\d% over 96 sentences/,
    );

    const notParser = spinn(["parse", "--model-dir", path.join(dir, "run")], "A dog runs .\n");
    assert.equal(notParser.status, 2);
    assert.match(
      notParser.stderr,
      /composes along given trees and does not parse: train one with --model spinn or --model rl-spinn/,
    );
    const misplaced = trainNli("--model", "spinn-pi", "--baseline", "whiten", "--out", path.join(dir, "x"));
    assert.equal(misplaced.status, 2);
    assert.match(misplaced.stderr, /--baseline applies to rl-spinn \(REINFORCE\), not spinn-pi/);
    const parserMisplaced = trainNli(
      "--model",
      "spinn-pi",
      "--parser",
      "separate",
      "--out",
      path.join(dir, "x"),
    );
    assert.equal(parserMisplaced.status, 2);
    assert.match(
      parserMisplaced.stderr,
      /--parser applies to the models that parse \(spinn, rl-spinn\), not spinn-pi/,
    );
    const sizeAlone = trainNli("--model", "rl-spinn", "--parser-hidden", "8", "--out", path.join(dir, "x"));
    assert.equal(sizeAlone.status, 2);
    assert.match(sizeAlone.stderr, /--parser-hidden sizes a separate parser: add --parser separate/);
    const trackerAlone = trainNli(
      "--model",
      "rl-spinn",
      "--composer-tracker",
      "8",
      "--out",
      path.join(dir, "x"),
    );
    assert.equal(trackerAlone.status, 2);
    assert.match(
      trackerAlone.stderr,
      /--composer-tracker gives the composer a tracker beside a separate parser: add --parser separate/,
    );
    const trackerMisplaced = trainNli(
      "--model",
      "spinn-pi-nt",
      "--composer-tracker",
      "8",
      "--out",
      path.join(dir, "x"),
    );
    assert.equal(trackerMisplaced.status, 2);
    assert.match(
      trackerMisplaced.stderr,
      /--composer-tracker applies to the models that parse \(spinn, rl-spinn\), not spinn-pi-nt/,
    );
  });

  test("bench prints throughput, memory and versions as one JSON line", () => {
    const r = spinn([
      "bench",
      "--synthetic",
      "40",
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
    assert.equal(r.status, 0, r.stderr);
    const b = JSON.parse(r.stdout);
    assert.equal(b.model, "spinn-pi");
    assert.equal(b.pairs, 40);
    assert.equal(b.config.batch_size, 8);
    assert.ok(b.train_pairs_per_s > 0 && b.eval_pairs_per_s > 0 && b.peak_rss_mib > 0);
    assert.equal(b.live_tensors.length, 2);
    assert.match(b.versions.torch, /^\d+\.\d+/);
    assert.equal(b.config.batch_tokens, DEFAULT_TRAIN_BATCH_TOKENS);
  });

  test("bench batches as training does: within --batch-tokens, or by count with 0", () => {
    // Pairs of two 5-word sentences: 2 × 9 = 18 sentences × transitions each.
    const bench = (budget: string) => {
      const flags = ["--synthetic", "40", "--length", "5", "--batch-size", "8", "--batch-tokens", budget];
      const r = spinn(["bench", ...flags, "--steps", "2", "--warmup", "0", "--eval-batches", "1", ...small]);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const budget = bench("40");
    assert.equal(budget.config.batch_tokens, 40);
    assert.equal(budget.largest_batch_tokens, 36); // 2 pairs: a third would cost 54
    const count = bench("0");
    assert.equal(count.config.batch_tokens, 0);
    assert.equal(count.largest_batch_tokens, 8 * 18);
  });

  test("bad flags, missing files and wrong data are one line and exit code 2", () => {
    const cases: [string[], RegExp][] = [
      [["train", "--task", "nli", "--out", path.join(dir, "x")], /--train is required/],
      [
        [
          "train",
          "--task",
          "nli",
          "--train",
          path.join(dir, "missing.jsonl"),
          "--dev",
          nli,
          "--model",
          "lstm",
          "--out",
          path.join(dir, "x"),
        ],
        /--train: no such file/,
      ],
      [
        [
          "train",
          "--task",
          "nli",
          "--train",
          nli,
          "--dev",
          nli,
          "--model",
          "treelstm",
          "--out",
          path.join(dir, "x"),
        ],
        /--model must be one of/,
      ],
      [
        [
          "train",
          "--task",
          "nli",
          "--train",
          nli,
          "--dev",
          nli,
          "--model",
          "lstm",
          "--out",
          path.join(dir, "x"),
          "--epochs",
          "two",
        ],
        /--epochs must be an integer >= 1, got "two"/,
      ],
      [
        [
          "train",
          "--task",
          "listops",
          "--train",
          nli,
          "--dev",
          nli,
          "--model",
          "lstm",
          "--out",
          path.join(dir, "x"),
        ],
        /nli.jsonl: this is NLI data but the task is listops/,
      ],
      [["eval", "--model-dir", path.join(dir, "nothing"), "--data", nli], /no model here/],
      [
        ["eval", "--model-dir", run, "--data", nli, "--device", "cuda:7"],
        /device cuda:7: (CUDA is not available|there are only)/,
      ],
      [["train", "--out", path.join(dir, "nothing"), "--resume"], /no checkpoint to resume from/],
      [["train", "--out", path.join(dir, "x"), "--frob"], /unknown option '--frob'/],
    ];
    for (const [args, pattern] of cases) {
      const r = spinn(args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
