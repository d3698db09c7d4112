import assert from "node:assert/strict";
import { readdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadEmbeddings } from "../../src/data/embeddings.js";
import { DataError } from "../../src/data/errors.js";
import { Vocabulary } from "../../src/data/vocabulary.js";
import { fixtureDir, rejection } from "./helpers.js";

let fx: Awaited<ReturnType<typeof fixtureDir>>;
before(async () => {
  fx = await fixtureDir();
});
after(async () => {
  await fx.cleanup();
});

// "the" ×3, "dog" ×2, "a" ×2, "runs" ×1, "zebra" ×1 (lowercased).
const vocab = Vocabulary.build(
  [
    ["The", "dog", "runs"],
    ["the", "dog", "a"],
    ["the", "a", "zebra"],
  ],
  { lowercase: true },
);

const GLOVE = ["the 0.1 0.2 0.3", "cat 1 2 3", "dog -1 -2 -3.5e-1", "runs 0 0 1", "The 9 9 9", ""].join("\n");

test("keeps vocabulary words, reports coverage and missing words by frequency", async () => {
  const file = await fx.write("g.txt", GLOVE);
  const e = await loadEmbeddings(file, vocab, { seed: 1 });
  assert.equal(e.dim, 3);
  assert.equal(e.rows, 5);
  assert.equal(e.found, 3);
  assert.deepEqual(e.missing, ["a", "zebra"]);
  assert.equal(e.coverage.types, 3 / 5);
  assert.equal(e.coverage.tokens, 6 / 9);
  assert.equal(e.cache, "none");
  assert.equal(e.matrix.length, vocab.size * 3);
  const row = (w: string) => [...e.matrix.subarray(vocab.idOf(w) * 3, vocab.idOf(w) * 3 + 3)];
  assert.deepEqual(row("the"), [0.1, 0.2, 0.3].map(Math.fround)); // first occurrence wins over "The"
  assert.deepEqual(row("dog"), [-1, -2, -0.35].map(Math.fround));
  assert.deepEqual([...e.matrix.subarray(0, 3)], [0, 0, 0]); // <pad>
  assert.ok(row("a").some((x) => x !== 0));
  assert.ok(row("<unk>").some((x) => x !== 0));
});

test("random rows are seeded", async () => {
  const file = await fx.write("g2.txt", GLOVE);
  const a = await loadEmbeddings(file, vocab, { seed: 5 });
  const b = await loadEmbeddings(file, vocab, { seed: 5 });
  const c = await loadEmbeddings(file, vocab, { seed: 6 });
  assert.deepEqual(a.matrix, b.matrix);
  assert.notDeepEqual(a.matrix, c.matrix);
});

test("word2vec header is skipped and checked", async () => {
  const file = await fx.write("w2v.txt", `5 3\n${GLOVE}`);
  const e = await loadEmbeddings(file, vocab);
  assert.equal(e.found, 3);
  assert.equal(e.rows, 5);
  const err = await rejection(loadEmbeddings(file, vocab, { dim: 4 }));
  assert.equal(err.message, `${file}:1: header says dimension 3, expected 4`);
});

test("rows of the wrong dimension or with non-numbers are file:line errors", async () => {
  const cases: [string, string][] = [
    ["dog 1 2", 'expected 3 numbers after the word "dog", found 2'],
    ["cat 1 2 3 4", 'expected 3 numbers after the word "cat", found 4'], // not in the vocabulary: still checked
    ["dog 1 abc 3", 'value 2 of "dog" is not a number: "abc"'],
    ["dog 1 NaN 3", 'value 2 of "dog" is not a number: "NaN"'],
    ["dog 1 2 Infinity", 'value 3 of "dog" is not a number: "Infinity"'],
    ["dog 1  3", 'value 2 of "dog" is not a number: ""'],
    ["dog 1e39 2 3", 'value 1 of "dog" is too large for float32 (at most ±3.4028235e38): "1e39"'],
    ["dog 1 2 -4e38", 'value 3 of "dog" is too large for float32 (at most ±3.4028235e38): "-4e38"'],
    ["dog 1 inf 3", 'value 2 of "dog" is not a number: "inf"'],
    ["lonelyword", "expected a word followed by 3 numbers"],
  ];
  for (const [line, detail] of cases) {
    const file = await fx.write("bad.txt", `the 0.1 0.2 0.3\n${line}\nruns 0 0 1\n`);
    const err = await rejection(loadEmbeddings(file, vocab));
    assert.ok(err instanceof DataError, line);
    assert.equal(err.message, `${file}:2: ${detail}`);
  }
  const file = await fx.write(
    "bad-lenient.txt",
    `the 0.1 0.2 0.3\n${cases.map(([l]) => l).join("\n")}\nruns 0 0 1\n`,
  );
  const e = await loadEmbeddings(file, vocab, { lenient: true });
  assert.equal(e.invalid.count, cases.length);
  assert.equal(e.found, 2);
  const wrongDim = await rejection(loadEmbeddings(await fx.write("dim.txt", GLOVE), vocab, { dim: 4 }));
  assert.match(wrongDim.message, /:1: expected 4 numbers after the word "the", found 3$/);
  const empty = await rejection(loadEmbeddings(await fx.write("empty.txt", ""), vocab));
  assert.match(empty.message, /empty\.txt: no vectors in the file$/);
  const missing = await rejection(loadEmbeddings(join(fx.dir, "none.txt"), vocab, { cacheDir: fx.dir }));
  assert.match(missing.message, /none\.txt: no such file$/);
});

test("binary cache: a hit equals a fresh load; stale caches are rebuilt", async () => {
  const file = await fx.write("cached.txt", GLOVE);
  const cacheDir = join(fx.dir, "cache");
  const fresh = await loadEmbeddings(file, vocab, { seed: 3 });
  const first = await loadEmbeddings(file, vocab, { seed: 3, cacheDir });
  assert.equal(first.cache, "miss");
  const hit = await loadEmbeddings(file, vocab, { seed: 3, cacheDir });
  assert.equal(hit.cache, "hit");
  for (const e of [first, hit]) {
    assert.deepEqual(e.matrix, fresh.matrix);
    assert.deepEqual({ ...e, cache: "x", cacheFile: "x" }, { ...fresh, cache: "x", cacheFile: "x" });
  }
  // Another seed from the same cache: same as a fresh load with that seed.
  assert.deepEqual(
    (await loadEmbeddings(file, vocab, { seed: 4, cacheDir })).matrix,
    (await loadEmbeddings(file, vocab, { seed: 4 })).matrix,
  );
  // No temp files left behind.
  assert.deepEqual(
    (await readdir(cacheDir)).filter((n) => n.endsWith(".tmp")),
    [],
  );

  // The source changes (size and mtime): stale, rebuilt with the new vectors.
  await writeFile(file, GLOVE.replace("runs 0 0 1", "runs 0 0 2"));
  const old = await stat(file);
  await utimes(file, old.atime, new Date(old.mtimeMs + 5000));
  const stale = await loadEmbeddings(file, vocab, { cacheDir });
  assert.equal(stale.cache, "stale");
  assert.equal(stale.matrix[vocab.idOf("runs") * 3 + 2], 2);
  assert.equal((await loadEmbeddings(file, vocab, { cacheDir })).cache, "hit");

  // A corrupt cache file is rebuilt.
  await writeFile(hit.cacheFile!, "SPINNEMB garbage");
  assert.equal((await loadEmbeddings(file, vocab, { cacheDir })).cache, "stale");

  // Another vocabulary gets its own cache file.
  const other = Vocabulary.build([["dog", "cat"]]);
  const o = await loadEmbeddings(file, other, { cacheDir });
  assert.equal(o.cache, "miss");
  assert.equal(o.found, 2);
});

test("a lenient cache does not let a strict load pass", async () => {
  const file = await fx.write("lenient-cache.txt", `${GLOVE}\ndog 1 2\n`);
  const cacheDir = join(fx.dir, "cache2");
  const e = await loadEmbeddings(file, vocab, { lenient: true, cacheDir });
  assert.equal(e.invalid.count, 1);
  const again = await loadEmbeddings(file, vocab, { lenient: true, cacheDir });
  assert.equal(again.cache, "hit");
  assert.equal(again.invalid.count, 1);
  assert.equal(again.invalid.errors[0]!.message, e.invalid.errors[0]!.message);
  const err = await rejection(loadEmbeddings(file, vocab, { cacheDir }));
  assert.match(err.message, /:7: expected 3 numbers after the word "dog", found 2$/);
});
