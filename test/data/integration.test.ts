// Reads the shared SNLI and GloVe files when they are present and checks the counts stated in
// their PROVENANCE.md files. Skips (with a message) on machines without ../shared/data.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadEmbeddings } from "../../src/data/embeddings.js";
import { readLineBatches } from "../../src/data/lines.js";
import { readNli } from "../../src/data/nli.js";
import { tokenize } from "../../src/data/tokenizer.js";
import { Vocabulary } from "../../src/data/vocabulary.js";
import { sharedData } from "./helpers.js";

const DEV = join(sharedData, "snli", "snli_1.0_dev.jsonl");
const TRAIN = join(sharedData, "snli", "snli_1.0_train_subset.jsonl");
const GLOVE = join(sharedData, "glove", "glove.6B.100d.snli-subset.txt");
const skipSnli =
  existsSync(DEV) && existsSync(TRAIN) ? false : `shared SNLI data not found at ${join(sharedData, "snli")}`;
const skipGlove =
  !skipSnli && existsSync(GLOVE) ? false : `shared GloVe data not found at ${join(sharedData, "glove")}`;

test("SNLI dev: 10,000 lines, 158 without gold label, 9,842 pairs, strict binary trees", {
  skip: skipSnli,
}, async () => {
  const dev = await readNli(DEV);
  assert.equal(dev.lines, 10_000);
  assert.equal(dev.noGoldLabel, 158);
  assert.equal(dev.examples.length, 9_842);
  assert.equal(dev.invalid.count, 0);
  let longest = 0;
  for (const ex of dev.examples) {
    for (const s of [ex.premise, ex.hypothesis]) {
      assert.equal(s.transitions!.length, 2 * s.tokens.length - 1);
      longest = Math.max(longest, s.tokens.length);
    }
  }
  assert.ok(longest <= 82, `longest sentence ${longest}`);
  // The tokenizer reproduces the parses' tokens for almost every raw sentence.
  let same = 0;
  const raw = await rawSentences(DEV, 2000);
  for (const [text, parseTokens] of raw) if (tokenize(text).join(" ") === parseTokens) same++;
  assert.ok(same / raw.length > 0.99, `tokenizer agreement ${same}/${raw.length}`);
});

test("SNLI train subset: 6,520 lines, 6 without gold label", { skip: skipSnli }, async () => {
  const train = await readNli(TRAIN);
  assert.equal(train.lines, 6_520);
  assert.equal(train.noGoldLabel, 6);
  assert.equal(train.examples.length, 6_514);
  const dev = await readNli(DEV);
  const devIds = new Set(dev.examples.map((e) => e.id));
  assert.ok(
    train.examples.every((e) => !devIds.has(e.id)),
    "no train pair is in dev",
  );
});

test("GloVe subset: 28,083 rows of 100 dimensions; 'a' is missing", { skip: skipGlove }, async () => {
  const train = await readNli(TRAIN);
  const vocab = Vocabulary.build(
    train.examples.flatMap((e) => [e.premise.tokens, e.hypothesis.tokens]),
    { lowercase: true },
  );
  const e = await loadEmbeddings(GLOVE, vocab, { seed: 0 });
  assert.equal(e.rows, 28_083);
  assert.equal(e.dim, 100);
  assert.equal(e.missing[0], "a", "the most frequent word without a vector is 'a'");
  assert.ok(e.coverage.types > 0.9, `type coverage ${e.coverage.types}`);
  // PROVENANCE.md: about 87.7% of (lowercased) parse tokens are covered, most misses being 'a'.
  assert.ok(Math.abs(e.coverage.tokens! - 0.877) < 0.01, `token coverage ${e.coverage.tokens}`);
  const the = vocab.idOf("the");
  assert.equal(e.matrix[the * 100], Math.fround(-0.038194));
});

/** [raw sentence, tokens of its binary parse] for the first n lines (both sentences). */
async function rawSentences(file: string, n: number): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const { lines } of readLineBatches(file)) {
    for (const line of lines) {
      if (out.length >= 2 * n) return out;
      const j = JSON.parse(line) as Record<string, string>;
      for (const k of ["1", "2"]) {
        const parse = j[`sentence${k}_binary_parse`]!;
        out.push([
          j[`sentence${k}`]!,
          parse
            .split(" ")
            .filter((t) => t !== "(" && t !== ")")
            .join(" "),
        ]);
      }
    }
  }
  return out;
}
