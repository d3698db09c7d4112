// --lenient in the commands that read data, and what a strict run still prints:
//  - predict/parse: a bad line is answered in its place (JSON: {"line": N, "error": "..."} on
//    stdout; human output: a `spinn: FILE:N: ...` line on stderr), the others still are, exit 0;
//    without --lenient the first bad line ends the run (exit 2) after the good lines before it;
//  - eval: examples without the parses the model needs are skipped one by one and counted;
//  - errors carry advice for the model's task; a terminal gets a hint that input is awaited.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { terminalHint } from "../../src/cli/line-batches.js";
import { STDIN } from "../../src/data/lines.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-lenient-"));

function spinn(args: string[], input = "") {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", input });
}

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

const jsonLines = (out: string) =>
  out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const LISTOPS_ADVICE =
  'a ListOps expression is operators [MAX [MIN [MED [SM with values 0-9, each list closed by "]", ' +
  'e.g. "[MAX 2 9 [MIN 4 7 ] 0 ]" (or bracketed: "( ( ( [MAX 2 ) 9 ) ] )")';
const ENDS_EARLY = `expression ends early (missing value or ']') (${LISTOPS_ADVICE})`;
const LISTOPS_LINE = 'expected one JSON object per line, e.g. {"sentence": "[MAX 2 9 [MIN 4 7 ] 0 ]"}';

// Five lines: good, good (a single value), a bad expression, invalid JSON, good.
const listops = file(
  "listops.jsonl",
  [
    '{"sentence": "[MAX 2 9 ]"}',
    '{"sentence": "9"}',
    '{"sentence": "[MAX 2"}',
    "nope",
    '{"sentence": "[MIN 3 4 ]"}',
  ]
    .map((l) => `${l}\n`)
    .join(""),
);
const notJson = `not valid JSON (Unexpected token 'o', "nope" is not valid JSON) (${LISTOPS_LINE})`;

describe("spinn predict", () => {
  test("strict: the good lines before the first bad one are printed, then its error, exit 2", () => {
    const r = spinn(["predict", "--model", "listops-pi", "--input", listops]);
    assert.equal(r.status, 2);
    assert.deepEqual(
      jsonLines(r.stdout).map((o) => [o.id, o.label]),
      [
        ["line 1", "9"],
        ["line 2", "9"],
      ],
    );
    assert.equal(r.stderr, `spinn: ${listops}:3: sentence: ${ENDS_EARLY}\n`);
  });

  test("--lenient: an error object in each bad line's place, the others answered, exit 0", () => {
    for (const batch of ["256", "2", "1"]) {
      const r = spinn([
        "predict",
        "--model",
        "listops-pi",
        "--input",
        listops,
        "--lenient",
        "--batch-size",
        batch,
      ]);
      assert.equal(r.status, 0, r.stderr);
      const out = jsonLines(r.stdout);
      assert.deepEqual(
        out.map((o) => o.id ?? o.line),
        ["line 1", "line 2", 3, 4, "line 5"],
      );
      assert.deepEqual(out[2], { line: 3, error: `sentence: ${ENDS_EARLY}` });
      assert.deepEqual(out[3], { line: 4, error: notJson });
      assert.equal(out[4]!.label, "3");
      assert.equal(r.stderr, "spinn: 2 of 5 lines skipped as invalid (--lenient)\n");
    }
  });

  test("--lenient --pretty: answers on stdout, each bad line's error on stderr", () => {
    const r = spinn(["predict", "--model", "listops-pi", "--input", listops, "--lenient", "--pretty"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .split("\n")
        .filter((l) => /^line \d+:/.test(l))
        .map((l) => l.split(":")[0]),
      ["line 1", "line 2", "line 5"],
    );
    assert.equal(
      r.stderr,
      `spinn: ${listops}:3: sentence: ${ENDS_EARLY} (line skipped: --lenient)\n` +
        `spinn: ${listops}:4: ${notJson} (line skipped: --lenient)\n` +
        "spinn: 2 of 5 lines skipped as invalid (--lenient)\n",
    );
  });

  test("--lenient: a field of the wrong type is named with the type it has", () => {
    const listopsInput = '{"sentence": 5}\n{"expression": [1]}\n{"sentence": "[MIN 3 4 ]"}\n';
    const lo = spinn(["predict", "--model", "listops-pi", "--lenient"], listopsInput);
    assert.equal(lo.status, 0, lo.stderr);
    const loOut = jsonLines(lo.stdout);
    assert.match(String(loOut[0]!.error), /^sentence: must be a string, got number \(/);
    assert.match(String(loOut[1]!.error), /^expression: must be a string, got array \(/);
    assert.equal(loOut[2]!.label, "3");
    // A parse of the wrong type is not silently replaced by the raw sentence beside it.
    const nliInput = [
      '{"premise": 3, "hypothesis": "A dog moves ."}',
      '{"premise": "A dog runs .", "premise_parse": 7, "hypothesis": "A dog moves ."}',
      '{"premise": "A dog runs .", "hypothesis": "A dog moves ."}',
    ].join("\n");
    const nli = spinn(["predict", "--model", "snli-spinn", "--lenient"], nliInput);
    assert.equal(nli.status, 0, nli.stderr);
    const nliOut = jsonLines(nli.stdout);
    assert.deepEqual(nliOut.slice(0, 2), [
      { line: 1, error: "premise: must be a string, got number" },
      { line: 2, error: "premise_parse: must be a string, got number" },
    ]);
    assert.equal(nliOut[2]!.id, "line 3");
  });

  test("--lenient: a missing field and lines over the input limits", () => {
    const input = [
      '{"sentence": "[MAX 1 2 3 4 5 6 ]"}',
      '{"expr": "1"}',
      '{"sentence": "[MIN 3 4 ]"}',
      "x".repeat(100),
    ]
      .map((l) => `${l}\n`)
      .join("");
    const r = spinn(
      ["predict", "--model", "listops-pi", "--lenient", "--max-tokens", "6", "--max-line-bytes", "40"],
      input,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(jsonLines(r.stdout), [
      { line: 1, error: "8 tokens, more than the limit of 6 (raise it with --max-tokens)" },
      { line: 2, error: `missing "sentence" (a ListOps expression) (${LISTOPS_LINE})` },
      jsonLines(r.stdout)[2],
      { line: 4, error: "line longer than 40 bytes (the limit; raise it with --max-line-bytes)" },
    ]);
    assert.equal(jsonLines(r.stdout)[2]!.id, "line 3");
    // Strict: the line too long ends the run after the three lines before it (one answered).
    const strict = spinn(
      ["predict", "--model", "listops-pi", "--max-line-bytes", "40"],
      `${'{"sentence": "9"}\n'.repeat(3)}${"x".repeat(100)}\n`,
    );
    assert.equal(strict.status, 2);
    assert.equal(jsonLines(strict.stdout).length, 3);
    assert.equal(
      strict.stderr,
      "spinn: <stdin>:4: line longer than 40 bytes (the limit; raise it with --max-line-bytes)\n",
    );
  });
});

describe("spinn parse", () => {
  const input = `[MAX 2 9 ]\n[MAX 2\n\n[MIN 1 2 ]\n[SM ${"1 ".repeat(30)}]\n`;
  test("--lenient --json: error objects in place; plain output: errors on stderr", () => {
    const r = spinn(
      ["parse", "--model", "listops-rl", "--lenient", "--json", "--max-line-bytes", "40"],
      input,
    );
    assert.equal(r.status, 0, r.stderr);
    const out = jsonLines(r.stdout);
    assert.deepEqual(
      out.map((o) => o.tree ?? o.line),
      ["( [MAX ( 2 ( 9 ] ) ) )", 2, "( [MIN ( 1 ( 2 ] ) ) )", 5],
    );
    assert.deepEqual(out[1], { line: 2, error: ENDS_EARLY });
    assert.deepEqual(out[3], {
      line: 5,
      error: "line longer than 40 bytes (the limit; raise it with --max-line-bytes)",
    });
    assert.equal(r.stderr, "spinn: 2 of 4 lines skipped as invalid (--lenient)\n");

    const plain = spinn(["parse", "--model", "listops-rl", "--lenient", "--max-line-bytes", "40"], input);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stdout, "( [MAX ( 2 ( 9 ] ) ) )\n( [MIN ( 1 ( 2 ] ) ) )\n");
    assert.equal(
      plain.stderr,
      `spinn: <stdin>:2: ${ENDS_EARLY} (line skipped: --lenient)\n` +
        "spinn: <stdin>:5: line longer than 40 bytes (the limit; raise it with --max-line-bytes) (line skipped: --lenient)\n" +
        "spinn: 2 of 4 lines skipped as invalid (--lenient)\n",
    );
  });

  test("strict: the good line before the bad one is printed, exit 2", () => {
    const r = spinn(["parse", "--model", "listops-rl"], input);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "( [MAX ( 2 ( 9 ] ) ) )\n");
    assert.equal(r.stderr, `spinn: <stdin>:2: ${ENDS_EARLY}\n`);
  });
});

describe("NLI: a SPINN-PI model needs parses", () => {
  const tiny = ["--d-embed", "8", "--d-hidden", "8", "--d-tracker", "4", "--d-mlp", "8", "--n-mlp", "1"];
  const pair = (label: string, parsed: boolean) =>
    JSON.stringify({
      gold_label: label,
      sentence1: "A dog runs .",
      sentence2: "The dog sleeps .",
      ...(parsed
        ? {
            sentence1_binary_parse: "( ( A dog ) ( runs . ) )",
            sentence2_binary_parse: "( ( The dog ) ( sleeps . ) )",
          }
        : {}),
    });
  const train = file(
    "nli.jsonl",
    ["neutral", "entailment", "contradiction"].map((l) => `${pair(l, true)}\n`).join(""),
  );
  // Line 2 has no parses.
  const mixed = file(
    "mixed.jsonl",
    [pair("neutral", true), pair("neutral", false), pair("entailment", true)].join("\n"),
  );
  const model = path.join(dir, "nli-pi");

  test("train a tiny SPINN-PI", () => {
    const r = spinn([
      "train",
      "--task",
      "nli",
      "--train",
      train,
      "--dev",
      train,
      "--model",
      "spinn-pi",
      "--out",
      model,
      "--epochs",
      "1",
      ...tiny,
    ]);
    assert.equal(r.status, 0, r.stderr);
  });

  test("eval: strict refuses at the first example without parses; --lenient skips and counts it", () => {
    const strict = spinn(["eval", "--model-dir", model, "--data", mixed]);
    assert.equal(strict.status, 2);
    assert.equal(
      strict.stderr,
      `spinn: ${mixed}:2: premise: no parse, and spinn-pi composes along given trees: the data needs "sentence1_binary_parse" ` +
        "(use --lenient to skip such examples, a full SPINN model, which parses, or a model trained with --transitions left, right or balanced, which needs no parses)\n",
    );
    const lenient = spinn(["eval", "--model-dir", model, "--data", mixed, "--lenient", "--json"]);
    assert.equal(lenient.status, 0, lenient.stderr);
    const summary = JSON.parse(lenient.stdout) as { examples: number; skipped: Record<string, number> };
    assert.equal(summary.examples, 2);
    assert.deepEqual(summary.skipped, { no_gold_label: 0, invalid: 0, no_parse: 1 });
    const human = spinn(["eval", "--model-dir", model, "--data", mixed, "--lenient"]);
    assert.equal(human.status, 0, human.stderr);
    assert.match(
      human.stdout,
      /: skipped 1 example without the parses spinn-pi composes along \(--lenient\)$/m,
    );
    // Nothing left to evaluate: said so, with why.
    const none = file("none.jsonl", `${pair("neutral", false)}\n`);
    const empty = spinn(["eval", "--model-dir", model, "--data", none, "--lenient"]);
    assert.equal(empty.status, 2);
    assert.equal(
      empty.stderr,
      `spinn: ${none}: no labelled example to evaluate on (skipped: 1 without the parses the model needs)\n`,
    );
  });

  test("predict: a line without a parse gets NLI advice; --lenient answers the rest", () => {
    const input = [
      '{"premise_parse": "( ( A dog ) runs )", "hypothesis_parse": "( The dog )"}',
      '{"premise": "A dog runs", "hypothesis_parse": "( The dog )"}',
      '{"premise": "A dog runs"}',
      "[1, 2]",
    ].join("\n");
    const advice =
      ': add "premise_parse" in binary-parse notation, e.g. "( ( A man ) ( is ( playing ( a guitar ) ) ) )" ' +
      "(or use a model trained with --transitions left, right or balanced, which needs no parses)";
    const nliLine =
      'expected one JSON object per line, e.g. {"premise": "A man plays.", "hypothesis": "A person plays."}';
    const strict = spinn(["predict", "--model-dir", model], input);
    assert.equal(strict.status, 2);
    assert.equal(jsonLines(strict.stdout).length, 1);
    assert.equal(
      strict.stderr,
      `spinn: <stdin>:2: premise: no parse, and spinn-pi composes along given trees${advice}\n`,
    );
    const r = spinn(["predict", "--model-dir", model, "--lenient"], input);
    assert.equal(r.status, 0, r.stderr);
    const out = jsonLines(r.stdout);
    assert.equal(out[0]!.id, "line 1");
    assert.deepEqual(out.slice(1), [
      { line: 2, error: `premise: no parse, and spinn-pi composes along given trees${advice}` },
      { line: 3, error: `missing "hypothesis" (a string) (${nliLine})` },
      { line: 4, error: `expected a JSON object (${nliLine})` },
    ]);
  });
});

test("the terminal hint: only when reading stdin and stdin is a terminal", () => {
  assert.equal(
    terminalHint(STDIN, true, "JSON lines"),
    "spinn: reading JSON lines from the terminal, one per line; end with Ctrl-D (or give --input FILE)\n",
  );
  assert.equal(terminalHint(STDIN, false, "JSON lines"), null);
  assert.equal(terminalHint(STDIN, undefined, "sentences"), null);
  assert.equal(terminalHint("in.jsonl", true, "sentences"), null);
  assert.equal(
    terminalHint(STDIN, true, "data lines", "--data"),
    "spinn: reading data lines from the terminal, one per line; end with Ctrl-D (or give --data FILE)\n",
  );
  // Piped input (as in every test above): no hint on stderr.
  assert.equal(spinn(["parse", "--model", "listops-rl"], "9\n").stderr, "");
});

describe("spinn train --lenient", () => {
  test("a line with an unbalanced tree among good ones: trains, reports 1 skipped and names the line", () => {
    const good = spinn([
      "listops",
      "generate",
      "--count",
      "30",
      "--seed",
      "4",
      "--max-length",
      "8",
      "--out",
      "-",
    ]);
    assert.equal(good.status, 0, good.stderr);
    const lines = good.stdout.trim().split("\n");
    // Line 5: brackets that do not balance (one ")" too many).
    lines.splice(4, 0, "3\t( ( [MAX 3 ) 4 ] ) )");
    const train = file("train-bad-tree.tsv", `${lines.join("\n")}\n`);
    const dev = file("dev-good.tsv", `${lines.slice(0, 4).join("\n")}\n`);
    const args = ["train", "--task", "listops", "--train", train, "--dev", dev, "--model", "spinn-pi"];
    const tiny = [
      "--epochs",
      "1",
      "--d-embed",
      "8",
      "--d-hidden",
      "8",
      "--d-mlp",
      "8",
      "--n-mlp",
      "1",
      "--json",
    ];

    const strict = spinn([...args, "--out", path.join(dir, "strict-run"), ...tiny]);
    assert.equal(strict.status, 2);
    assert.match(strict.stderr, /^spinn: .*train-bad-tree\.tsv:5: expression: unbalanced brackets/);

    const r = spinn([...args, "--out", path.join(dir, "lenient-run"), ...tiny, "--lenient"]);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { train_examples: number };
    assert.equal(summary.train_examples, 30);
    assert.match(
      r.stderr,
      /train-bad-tree\.tsv: skipped 1 invalid line \(--lenient\):\n {2}\S*train-bad-tree\.tsv:5: expression: unbalanced brackets: '\)' without a matching '\('/,
    );
  });
});
