import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DataError } from "../../src/data/errors.js";
import { iterateNli, NLI_LABELS, readNli } from "../../src/data/nli.js";
import { fixtureDir, rejection } from "./helpers.js";

let fx: Awaited<ReturnType<typeof fixtureDir>>;
before(async () => {
  fx = await fixtureDir();
});
after(async () => {
  await fx.cleanup();
});

function pair(fields: Record<string, unknown>): string {
  return JSON.stringify({
    gold_label: "entailment",
    sentence1: "A dog runs.",
    sentence2: "An animal moves.",
    sentence1_binary_parse: "( ( A dog ) ( runs . ) )",
    sentence2_binary_parse: "( ( An animal ) ( moves . ) )",
    pairID: "p1",
    ...fields,
  });
}

test("jsonl: labels, tokens, transitions, ids, genre, source; '-' skipped and counted", async () => {
  const file = await fx.write(
    "ok.jsonl",
    [
      pair({}),
      pair({ gold_label: "-", pairID: "p2" }),
      "",
      pair({ gold_label: "contradiction", pairID: "p3", genre: "fiction" }),
      pair({ gold_label: "neutral", pairID: undefined }),
    ].join("\n"),
  );
  const r = await readNli(file);
  assert.equal(r.format, "jsonl");
  assert.equal(r.lines, 4);
  assert.equal(r.noGoldLabel, 1);
  assert.equal(r.invalid.count, 0);
  assert.deepEqual(
    r.examples.map((e) => [e.id, NLI_LABELS[e.label], e.genre, e.source.line]),
    [
      ["p1", "entailment", undefined, 1],
      ["p3", "contradiction", "fiction", 4],
      ["line 5", "neutral", undefined, 5],
    ],
  );
  const ex = r.examples[0]!;
  assert.equal(ex.source.file, file);
  assert.deepEqual(ex.premise.tokens, ["A", "dog", "runs", "."]);
  assert.deepEqual([...ex.premise.transitions!], [0, 0, 1, 0, 0, 1, 1]);
  assert.ok(!("genre" in ex));
});

test("jsonl without parses: tokenized from the text, transitions null", async () => {
  const file = await fx.write(
    "noparse.jsonl",
    `${JSON.stringify({ gold_label: "neutral", sentence1: "The man's dog didn't bark.", sentence2: "Quiet." })}\n`,
  );
  const r = await readNli(file);
  assert.deepEqual(r.examples[0]!.premise, {
    tokens: ["The", "man", "'s", "dog", "did", "n't", "bark", "."],
    transitions: null,
  });
  assert.deepEqual(r.examples[0]!.hypothesis.tokens, ["Quiet", "."]);
});

test("tab-separated SNLI/MultiNLI .txt with a header", async () => {
  const header =
    "gold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1\tsentence2\tpairID\tgenre";
  const file = await fx.write(
    "snli.txt",
    `${header}\r\nneutral\t( a b )\t( c d )\ta b\tc d\tx1\ttravel\r\n-\t( a b )\t( c d )\ta b\tc d\tx2\ttravel\r\n`,
  );
  const r = await readNli(file);
  assert.equal(r.format, "txt");
  assert.equal(r.lines, 2);
  assert.equal(r.noGoldLabel, 1);
  assert.equal(r.examples.length, 1);
  assert.deepEqual(r.examples[0]!.hypothesis.tokens, ["c", "d"]);
  assert.equal(r.examples[0]!.genre, "travel");
  assert.equal(r.examples[0]!.source.line, 2);
});

// Every error case: the exact message, naming file, line and field.
const ERROR_CASES: [string, string, string | undefined, string][] = [
  [
    pair({ sentence1_binary_parse: "( ( A dog ) ( runs . ) ) )" }),
    "sentence1_binary_parse",
    "unbalanced brackets: ')' without a matching '(' (token 11)",
    "unbalanced )",
  ],
  [
    pair({ sentence2_binary_parse: "( ( An animal ) ( moves . )" }),
    "sentence2_binary_parse",
    "unbalanced brackets: 1 '(' not closed",
    "unbalanced (",
  ],
  [
    pair({ sentence1_binary_parse: "( ( A ) ( runs . ) )" }),
    "sentence1_binary_parse",
    "REDUCE with fewer than two items on the stack (token 4)",
    "reduce",
  ],
  [
    pair({ sentence2_binary_parse: "" }),
    "sentence2_binary_parse",
    "empty sentence (no words)",
    "empty parse",
  ],
  [
    pair({ sentence2_binary_parse: undefined, sentence2: "  " }),
    "sentence2",
    "empty sentence (no words)",
    "empty text",
  ],
  [
    pair({ sentence1_binary_parse: "( A dog ) runs" }),
    "sentence1_binary_parse",
    "tree does not end with one item (2 items left on the stack)",
    "two items",
  ],
  [
    pair({ gold_label: "maybe" }),
    "gold_label",
    'unknown label "maybe" (expected entailment, neutral, contradiction or "-")',
    "label",
  ],
  [pair({ gold_label: undefined }), "gold_label", "missing", "no label"],
  [
    pair({ sentence1: undefined, sentence1_binary_parse: undefined }),
    "sentence1",
    "missing (and no sentence1_binary_parse either)",
    "no sentence",
  ],
  [pair({ sentence1_binary_parse: 7 }), "sentence1_binary_parse", "expected a string", "not a string"],
];

test("every parse and field error names file:line: field: problem", async () => {
  for (const [line, field, detail, name] of ERROR_CASES) {
    const file = await fx.write(`bad-${name.replace(/\W/g, "_")}.jsonl`, `${pair({})}\n${line}\n`);
    const err = await rejection(readNli(file));
    assert.ok(err instanceof DataError, name);
    assert.equal(err.message, `${file}:2: ${field}: ${detail}`, name);
    assert.equal(err.file, file);
    assert.equal(err.line, 2);
    assert.equal(err.field, field);
  }
});

test("invalid JSON and non-objects are errors without a field", async () => {
  const file = await fx.write("badjson.jsonl", `${pair({})}\n{"gold_label": \n`);
  const err = await rejection(readNli(file));
  assert.match(err.message, new RegExp(`^${escapeRegExp(file)}:2: invalid JSON \\(`));
  const file2 = await fx.write("array.jsonl", "[1, 2]\n");
  assert.equal((await rejection(readNli(file2))).message, `${file2}:1: expected a JSON object`);
});

test("txt: missing header columns are reported at line 1", async () => {
  const file = await fx.write("nohdr.txt", "neutral\t( a b )\t( c d )\n");
  assert.equal(
    (await rejection(readNli(file))).message,
    `${file}:1: header: missing columns gold_label, sentence1, sentence2 (the first line of a tab-separated NLI file must name the columns)`,
  );
});

test("a missing file is a DataError at line 0", async () => {
  const err = await rejection(readNli(`${fx.dir}/nope.jsonl`));
  assert.ok(err instanceof DataError);
  assert.equal(err.message, `${fx.dir}/nope.jsonl: no such file`);
});

test("lenient mode skips invalid lines and reports how many", async () => {
  const lines = [
    pair({}),
    ...ERROR_CASES.map(([l]) => l),
    "not json",
    pair({ gold_label: "-" }),
    pair({ pairID: "last" }),
  ];
  const file = await fx.write("mixed.jsonl", lines.join("\n"));
  const r = await readNli(file, { lenient: true, maxKeptErrors: 3 });
  assert.deepEqual(
    r.examples.map((e) => e.id),
    ["p1", "last"],
  );
  assert.equal(r.invalid.count, ERROR_CASES.length + 1);
  assert.equal(r.invalid.errors.length, 3);
  assert.equal(r.invalid.errors[0]!.line, 2);
  assert.equal(r.noGoldLabel, 1);
});

test("iterateNli streams examples", async () => {
  const file = await fx.write("stream.jsonl", `${pair({})}\n${pair({ pairID: "p2" })}\n`);
  const ids: string[] = [];
  for await (const ex of iterateNli(file)) ids.push(ex.id);
  assert.deepEqual(ids, ["p1", "p2"]);
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
