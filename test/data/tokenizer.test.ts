import assert from "node:assert/strict";
import { test } from "node:test";
import { tokenize } from "../../src/data/tokenizer.js";

// Expected tokens written by hand, following the Penn Treebank conventions that the SNLI
// binary parses use.
const CASES: [string, string][] = [
  [
    "Two women are embracing while holding to go packages.",
    "Two women are embracing while holding to go packages .",
  ],
  ["A man doesn't like the dog's toy.", "A man does n't like the dog 's toy ."],
  ["I can't, won't and cannot go!", "I ca n't , wo n't and can not go !"],
  [
    "They're here; we'll see, I'm sure, you've won, he'd go.",
    "They 're here ; we 'll see , I 'm sure , you 've won , he 'd go .",
  ],
  ['She said "hello" to him.', "She said `` hello '' to him ."],
  ['"Stop," he said.', "`` Stop , '' he said ."],
  ["The girls' toys are here.", "The girls ' toys are here ."],
  ["A man (wearing a hat) walks.", "A man -LRB- wearing a hat -RRB- walks ."],
  ["Is it 1,000 or 2.5 dollars?", "Is it 1,000 or 2.5 dollars ?"],
  ["Mr. Smith went to Washington.", "Mr. Smith went to Washington ."],
  ["A middle-aged man is here...", "A middle-aged man is here ..."],
  ["Wait -- what?", "Wait -- what ?"],
  ["I'm gonna wanna go", "I 'm gon na wan na go"],
  ["It costs $5 & more: 50%.", "It costs $ 5 & more : 50 % ."],
  ["He said \u201cyes\u201d and didn\u2019t leave.", "He said `` yes '' and did n't leave ."],
  ["   ", ""],
];

test("tokenizer matches hand-written PTB expectations", () => {
  for (const [text, expected] of CASES) {
    assert.deepEqual(tokenize(text), expected === "" ? [] : expected.split(" "), text);
  }
});

test("lowercasing and keeping brackets are options", () => {
  assert.deepEqual(tokenize("The Dog (big) RUNS.", { lowercase: true }), [
    "the",
    "dog",
    "-lrb-",
    "big",
    "-rrb-",
    "runs",
    ".",
  ]);
  assert.deepEqual(tokenize("a (b) c", { ptbEscapes: false }), ["a", "(", "b", ")", "c"]);
});
