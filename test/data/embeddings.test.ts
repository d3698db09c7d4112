import assert from "node:assert/strict";
import { readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
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

  // A cache of another version is rebuilt: version 1 caches were written before values beyond
  // float32's range were refused, so one may hold an infinity, which must not get through.
  const v1 = Buffer.from(await readFile(hit.cacheFile!));
  v1.writeUInt32LE(1, 8);
  v1.writeFloatLE(Number.POSITIVE_INFINITY, v1.length - 4);
  await writeFile(hit.cacheFile!, v1);
  const rebuilt = await loadEmbeddings(file, vocab, { cacheDir });
  assert.equal(rebuilt.cache, "stale");
  assert.ok(rebuilt.matrix.every(Number.isFinite));
  assert.equal((await loadEmbeddings(file, vocab, { cacheDir })).cache, "hit");

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

/** The cache file with its header JSON replaced by `header` (ids and vectors kept). */
function withHeader(buf: Buffer, header: string): Buffer {
  const end = 16 + buf.readUInt32LE(12);
  const body = buf.subarray((end + 3) & ~3);
  const json = Buffer.from(header, "utf8");
  const prefix = Buffer.alloc((16 + json.length + 3) & ~3);
  buf.copy(prefix, 0, 0, 12);
  prefix.writeUInt32LE(json.length, 12);
  json.copy(prefix, 16);
  return Buffer.concat([prefix, body]);
}

test("a damaged cache is one line naming it and the problem, never a silent load", async () => {
  const file = await fx.write("damaged.txt", GLOVE);
  const cacheDir = join(fx.dir, "cache3");
  const made = await loadEmbeddings(file, vocab, { cacheDir });
  const cacheFile = made.cacheFile!;
  const good = await readFile(cacheFile);
  const header = JSON.parse(good.toString("utf8", 16, 16 + good.readUInt32LE(12))) as Record<string, unknown>;
  const set = (offset: number, value: number, write: "writeFloatLE" | "writeInt32LE") => {
    const b = Buffer.from(good);
    b[write](value, offset);
    return b;
  };
  const idsOffset = (16 + good.readUInt32LE(12) + 3) & ~3;
  const cases: [Buffer, string][] = [
    [
      good.subarray(0, good.length - 4),
      `${good.length - 4} bytes, expected ${good.length} for 3 vectors of 3`,
    ],
    [good.subarray(0, 24), `truncated: 24 bytes, the header alone says ${16 + good.readUInt32LE(12)}`],
    [
      Buffer.from(`XXXXXXXX${good.toString("latin1", 8)}`, "latin1"),
      "not a spinn embeddings cache (no SPINNEMB header)",
    ],
    [withHeader(good, '{"dim": 3,'), "header is not valid JSON (*)"],
    [
      withHeader(good, JSON.stringify({ ...header, dim: "3" })),
      'header: dim: expected an integer >= 1, got "3"',
    ],
    [
      withHeader(good, JSON.stringify({ ...header, source: 1 })),
      "header: source: expected a JSON object, got 1",
    ],
    [set(good.length - 4, Number.NaN, "writeFloatLE"), 'value 3 of "runs" is NaN, not a finite number'],
    [
      set(good.length - 36, Number.NEGATIVE_INFINITY, "writeFloatLE"),
      'value 1 of "the" is -Infinity, not a finite number',
    ],
    [set(idsOffset, 999, "writeInt32LE"), "vector 1: word id 999 is out of range or repeated"],
  ];
  for (const [bytes, problem] of cases) {
    await writeFile(cacheFile, bytes);
    const err = await rejection(loadEmbeddings(file, vocab, { cacheDir }));
    assert.ok(err instanceof DataError, problem);
    // (*): JSON.parse's own words, which differ between Node versions.
    const expected = `${cacheFile}: ${problem} (a damaged embeddings cache: delete it to rebuild it)`;
    const [head, tail] = expected.split("*");
    if (tail === undefined) assert.equal(err.message, expected);
    else assert.ok(err.message.startsWith(head!) && err.message.endsWith(tail), err.message);
  }
  // Deleted, it is rebuilt.
  await rm(cacheFile);
  const again = await loadEmbeddings(file, vocab, { cacheDir });
  assert.equal(again.cache, "miss");
  assert.deepEqual(again.matrix, made.matrix);
});
