import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PAD, PAD_ID, UNK, UNK_ID, Vocabulary } from "../../src/data/vocabulary.js";
import { fixtureDir, rejection } from "./helpers.js";

let fx: Awaited<ReturnType<typeof fixtureDir>>;
before(async () => {
  fx = await fixtureDir();
});
after(async () => {
  await fx.cleanup();
});

const SENTENCES = [
  ["The", "dog", "runs", "."],
  ["the", "cat", "runs", "."],
  ["A", "dog", "sleeps", "."],
];

test("ids: <pad> 0, <unk> 1, then by count (ties by code unit order)", () => {
  const v = Vocabulary.build(SENTENCES);
  assert.equal(PAD_ID, 0);
  assert.equal(UNK_ID, 1);
  assert.deepEqual(v.toArray(), [PAD, UNK, ".", "dog", "runs", "A", "The", "cat", "sleeps", "the"]);
  assert.equal(v.size, 10);
  assert.equal(v.idOf("dog"), 3);
  assert.equal(v.idOf("giraffe"), UNK_ID);
  assert.equal(v.lookup("giraffe"), undefined);
  assert.equal(v.wordOf(3), "dog");
  assert.equal(v.countOf(2), 3);
  assert.throws(() => v.wordOf(10), /no word with id 10 \(vocabulary size 10\)/);
  assert.deepEqual([...v.encode(["The", "dog", "flies"])], [6, 3, 1]);
});

test("lowercasing applies when building and on lookup; minCount and maxWords", () => {
  const v = Vocabulary.build(SENTENCES, { lowercase: true, minCount: 2 });
  assert.deepEqual(v.toArray(), [PAD, UNK, ".", "dog", "runs", "the"]);
  assert.equal(v.idOf("THE"), v.idOf("the"));
  assert.equal(v.idOf("cat"), UNK_ID);
  assert.deepEqual(Vocabulary.build(SENTENCES, { maxWords: 2 }).toArray(), [PAD, UNK, ".", "dog"]);
  assert.throws(() => Vocabulary.build(SENTENCES, { minCount: 0 }), /minCount must be a positive integer/);
});

test("special tokens in the data keep their fixed ids", () => {
  const v = Vocabulary.build([["<unk>", "<pad>", "x"]]);
  assert.deepEqual(v.toArray(), [PAD, UNK, "x"]);
});

test("save/load and toJSON/fromJSON round-trip without shifting ids", async () => {
  const v = Vocabulary.build(SENTENCES, { lowercase: true });
  const path = join(fx.dir, "model", "vocab.json");
  await v.save(path);
  const loaded = await Vocabulary.load(path);
  assert.deepEqual(loaded.toArray(), v.toArray());
  assert.equal(loaded.lowercase, true);
  assert.equal(loaded.hash(), v.hash());
  for (const w of v.toArray()) assert.equal(loaded.idOf(w), v.idOf(w));
  assert.deepEqual(Vocabulary.fromJSON(JSON.parse(JSON.stringify(v))).toJSON(), v.toJSON());
  assert.equal(JSON.parse(await readFile(path, "utf8")).format, "spinn-vocabulary");
  assert.notEqual(Vocabulary.build(SENTENCES).hash(), v.hash());
});

test("fromJSON and load reject what is not a vocabulary: one line naming the file and the field", async () => {
  const good = Vocabulary.build(SENTENCES).toJSON();
  const cases: [unknown, string][] = [
    [null, "v.json: expected a JSON object, got null"],
    [[], "v.json: expected a JSON object, got []"],
    [{}, 'v.json: format: expected "spinn-vocabulary", got nothing'],
    [{ ...good, format: "x" }, 'v.json: format: expected "spinn-vocabulary", got "x"'],
    [{ ...good, version: 2 }, "v.json: version: expected 1, got 2"],
    [{ ...good, lowercase: "no" }, 'v.json: lowercase: expected true or false, got "no"'],
    [{ ...good, words: "abc" }, 'v.json: words: expected an array of strings, got "abc"'],
    [
      { ...good, words: [PAD, UNK, 3] },
      'v.json: words: expected an array of strings, got ["<pad>","<unk>",3]',
    ],
    [
      { ...good, words: ["a", ...good.words] },
      'v.json: words: expected <pad>, <unk> first, got ["a","<pad>"]',
    ],
    [
      { ...good, words: [...good.words, "dog"], counts: [...good.counts, 1] },
      'v.json: words: expected each word once, found twice, got "dog"',
    ],
    [{ ...good, counts: [1] }, "v.json: counts: expected 10 non-negative integers, one per word, got [1]"],
  ];
  for (const [json, message] of cases) {
    assert.throws(
      () => Vocabulary.fromJSON(json, "v.json"),
      (err: Error) => err.name === "CheckpointError" && err.message === message,
      message,
    );
  }
  // Without counts (an older file): every count is 0.
  const { counts: _, ...noCounts } = good;
  assert.equal(Vocabulary.fromJSON(noCounts).countOf(2), 0);

  const bad = await fx.write("bad.json", "{not json");
  const err = await rejection(Vocabulary.load(bad));
  assert.equal(err.name, "CheckpointError");
  assert.match(err.message, /^.*bad\.json: not valid JSON \(.+\)$/);
  const empty = await fx.write("empty.json", "");
  assert.equal(
    (await rejection(Vocabulary.load(empty))).message,
    `${empty}: empty file (truncated or never written)`,
  );
  const shape = await fx.write("shape.json", "{}");
  assert.equal(
    (await rejection(Vocabulary.load(shape))).message,
    `${shape}: format: expected "spinn-vocabulary", got nothing`,
  );
  const missing = join(fx.dir, "missing.json");
  assert.equal((await rejection(Vocabulary.load(missing))).message, `${missing}: cannot read (ENOENT)`);
});
