import assert from "node:assert/strict";
import { test } from "node:test";
import {
  batchTokens,
  encodeListOpsBatch,
  encodeNliBatch,
  encodeSentences,
  evaluationBatches,
  exampleLength,
  lengthsOf,
  limitLength,
  restoreOrder,
  trainingBatches,
} from "../../src/data/batching.js";
import type { ListOpsExample } from "../../src/data/listops.js";
import type { NliExample } from "../../src/data/nli.js";
import { Rng } from "../../src/data/rng.js";
import {
  branchingTransitions,
  parseBinaryParse,
  SKIP,
  validateTransitions,
} from "../../src/data/transitions.js";
import { Vocabulary } from "../../src/data/vocabulary.js";

function sentence(n: number) {
  const tokens = Array.from({ length: n }, (_, i) => `w${i}`);
  return { tokens, transitions: branchingTransitions(n, "balanced") };
}

function nli(p: number, h: number, i: number): NliExample {
  return {
    id: `e${i}`,
    label: i % 3,
    premise: sentence(p),
    hypothesis: sentence(h),
    source: { file: "f", line: i + 1 },
  };
}

// 200 pairs with premise lengths 1–20 and hypothesis lengths 1–7.
const EXAMPLES = Array.from({ length: 200 }, (_, i) => nli(1 + ((i * 7) % 20), 1 + ((i * 3) % 7), i));

test("same seed, same batches; different seed, different order; successive epochs differ", () => {
  const keys = lengthsOf(EXAMPLES);
  const a = trainingBatches(keys, { batchSize: 16, rng: new Rng(1) });
  const b = trainingBatches(keys, { batchSize: 16, rng: new Rng(1) });
  assert.deepEqual(a, b);
  assert.notDeepEqual(trainingBatches(keys, { batchSize: 16, rng: new Rng(2) }), a);
  const rng = new Rng(1);
  const epoch1 = trainingBatches(keys, { batchSize: 16, rng });
  const saved = rng.getState();
  const epoch2 = trainingBatches(keys, { batchSize: 16, rng });
  assert.deepEqual(epoch1, a);
  assert.notDeepEqual(epoch2, epoch1);
  // Resuming from a saved state replays the same epoch.
  assert.deepEqual(trainingBatches(keys, { batchSize: 16, rng: Rng.fromState(saved) }), epoch2);
});

test("training batches cover every example once and bucket by (premise, hypothesis) length", () => {
  const keys = lengthsOf(EXAMPLES);
  const batches = trainingBatches(keys, { batchSize: 16, rng: new Rng(3) });
  assert.equal(batches.length, Math.ceil(200 / 16));
  assert.deepEqual(
    batches.flatMap((b) => b.indices).sort((x, y) => x - y),
    Array.from({ length: 200 }, (_, i) => i),
  );
  // Sorted by length before cutting: the premise length range inside a batch is small.
  for (const b of batches) {
    const ps = b.indices.map((i) => EXAMPLES[i]!.premise.tokens.length);
    assert.ok(Math.max(...ps) - Math.min(...ps) <= 2, `premise lengths ${ps}`);
  }
  // Within one premise length, hypothesis lengths are sorted too (pairs bucketed on both).
  const ev = evaluationBatches(keys, 200)[0]!.indices;
  for (let k = 1; k < ev.length; k++) {
    const [p0, h0] = [
      EXAMPLES[ev[k - 1]!]!.premise.tokens.length,
      EXAMPLES[ev[k - 1]!]!.hypothesis.tokens.length,
    ];
    const [p1, h1] = [EXAMPLES[ev[k]!]!.premise.tokens.length, EXAMPLES[ev[k]!]!.hypothesis.tokens.length];
    assert.ok(p0 < p1 || (p0 === p1 && h0 <= h1));
  }
  const dropped = trainingBatches(keys, { batchSize: 16, rng: new Rng(3), dropLast: true });
  assert.equal(dropped.length, 12);
  assert.ok(dropped.every((b) => b.indices.length === 16));
  assert.throws(
    () => trainingBatches(keys, { batchSize: 0, rng: new Rng(0) }),
    /batchSize must be a positive integer/,
  );
});

test("evaluation order is deterministic and results map back to the original order", () => {
  const keys = lengthsOf(EXAMPLES);
  const batches = evaluationBatches(keys, 32);
  assert.deepEqual(evaluationBatches(keys, 32), batches);
  const results = batches.map((b) => b.indices.map((i) => EXAMPLES[i]!.id));
  assert.deepEqual(
    restoreOrder(batches, results, EXAMPLES.length),
    EXAMPLES.map((e) => e.id),
  );
  assert.throws(() => restoreOrder(batches, results.slice(1), EXAMPLES.length), /result lists/);
  assert.throws(() => restoreOrder(batches, results, EXAMPLES.length + 1), /no result for example 200/);
});

test("maximum length: crop keeps valid trees, skip drops; both are reported", () => {
  const examples = [nli(3, 2, 0), nli(10, 2, 1), nli(2, 12, 2)];
  const cropped = limitLength(examples, 5, "crop");
  assert.equal(cropped.cropped, 2);
  assert.equal(cropped.skipped, 0);
  for (const ex of cropped.examples) {
    for (const s of [ex.premise, ex.hypothesis]) {
      assert.ok(s.tokens.length <= 5);
      validateTransitions(s.transitions!, s.tokens.length);
    }
  }
  assert.equal(examples[1]!.premise.tokens.length, 10, "input not modified");
  const skipped = limitLength(examples, 5, "skip");
  assert.deepEqual(
    skipped.examples.map((e) => e.id),
    ["e0"],
  );
  assert.equal(skipped.skipped, 2);
});

test("padded arrays: ids padded with <pad>, transitions with SKIP", () => {
  const vocab = Vocabulary.build([["the", "dog", "runs"]]);
  const s = encodeSentences([parseBinaryParse("( the ( dog runs ) )"), parseBinaryParse("dog")], vocab);
  assert.equal(s.size, 2);
  assert.equal(s.width, 3);
  assert.equal(s.steps, 5);
  assert.deepEqual(
    [...s.ids],
    [vocab.idOf("the"), vocab.idOf("dog"), vocab.idOf("runs"), vocab.idOf("dog"), 0, 0],
  );
  assert.deepEqual([...s.lengths], [3, 1]);
  assert.deepEqual([...s.transitions!], [0, 0, 0, 1, 1, 0, SKIP, SKIP, SKIP, SKIP]);
  const raw = encodeSentences([{ tokens: ["the", "cat"], transitions: null }], vocab);
  assert.equal(raw.transitions, null);
  assert.deepEqual([...raw.ids], [vocab.idOf("the"), 1]);

  const nliBatch = encodeNliBatch(EXAMPLES, { indices: [4, 0] }, Vocabulary.build([["w0", "w1"]]));
  assert.deepEqual([...nliBatch.labels], [1, 0]);
  assert.equal(nliBatch.premise.size, 2);
  assert.equal(
    nliBatch.hypothesis.width,
    Math.max(EXAMPLES[4]!.hypothesis.tokens.length, EXAMPLES[0]!.hypothesis.tokens.length),
  );
  assert.throws(() => encodeNliBatch(EXAMPLES, { indices: [999] }, vocab), /batch index 999 out of range/);

  const lo: ListOpsExample[] = [
    {
      id: "0",
      label: 9,
      sentence: parseBinaryParse("( ( ( [MAX 2 ) 9 ) ] )"),
      source: { file: "f", line: 1 },
    },
  ];
  const loBatch = encodeListOpsBatch(lo, { indices: [0] }, Vocabulary.build([["[MAX", "2", "9", "]"]]));
  assert.deepEqual([...loBatch.labels], [9]);
  assert.equal(loBatch.sentence.steps, 7);
  assert.deepEqual(lengthsOf(lo), { primary: Int32Array.of(4) });
});

test("token budgets: every example once, no batch over the budget unless alone, long examples make small batches", () => {
  const keys = lengthsOf(EXAMPLES);
  const cost = (indices: number[]) => batchTokens(keys, indices);
  for (const budget of [1, 40, 300, 2000]) {
    const planned = [
      evaluationBatches(keys, 64, budget),
      trainingBatches(keys, { batchSize: 64, rng: new Rng(3), batchTokens: budget }),
    ];
    for (const batches of planned) {
      const seen = batches.flatMap((b) => b.indices).sort((a, b) => a - b);
      assert.deepEqual(
        seen,
        EXAMPLES.map((_, i) => i),
      );
      for (const b of batches) {
        assert.ok(b.indices.length <= 64);
        assert.ok(b.indices.length === 1 || cost(b.indices) <= budget, `cost ${cost(b.indices)} > ${budget}`);
      }
    }
  }
  // A pair of 20- and 7-token sentences costs 2 sentences × 39 transitions.
  assert.equal(batchTokens(keys, [EXAMPLES.findIndex((e) => e.premise.tokens.length === 20)]), 78);
  // Sorted by length, the batches shrink as the sentences grow.
  const batches = evaluationBatches(keys, 64, 600);
  assert.ok(batches[0]!.indices.length > batches[batches.length - 1]!.indices.length);
  // Same seed, same budgeted batches; without a budget, the count batches as before.
  assert.deepEqual(
    trainingBatches(keys, { batchSize: 16, rng: new Rng(4), batchTokens: 300 }),
    trainingBatches(keys, { batchSize: 16, rng: new Rng(4), batchTokens: 300 }),
  );
  assert.deepEqual(evaluationBatches(keys, 16), evaluationBatches(keys, 16, undefined));
  assert.throws(() => evaluationBatches(keys, 16, 0), /batchTokens must be a positive integer/);
});

test("a budget that no count batch reaches gives exactly the count batches, in the same order", () => {
  // So the default training budget changes nothing for short data (the demo: 64 ListOps
  // expressions of at most 40 tokens cost 64 × 79 = 5,056, under 16,384).
  const keys = lengthsOf(EXAMPLES);
  const count = trainingBatches(keys, { batchSize: 16, rng: new Rng(6) });
  const most = Math.max(...count.map((b) => batchTokens(keys, b.indices)));
  assert.deepEqual(trainingBatches(keys, { batchSize: 16, rng: new Rng(6), batchTokens: most }), count);
  // One less, and the costliest batch is cut.
  const cut = trainingBatches(keys, { batchSize: 16, rng: new Rng(6), batchTokens: most - 1 });
  assert.notDeepEqual(cut, count);
  for (const b of cut) assert.ok(b.indices.length === 1 || batchTokens(keys, b.indices) < most);
});

test("a curriculum's length limit: only the pairs whose longer sentence fits, each once", () => {
  const keys = lengthsOf(EXAMPLES);
  const fits = EXAMPLES.flatMap((e, i) =>
    Math.max(e.premise.tokens.length, e.hypothesis.tokens.length) <= 6 ? [i] : [],
  );
  assert.ok(fits.length > 0 && fits.length < EXAMPLES.length);
  for (const batchTokens of [undefined, 100]) {
    const batches = trainingBatches(keys, {
      batchSize: 8,
      rng: new Rng(5),
      longest: 6,
      ...(batchTokens ? { batchTokens } : {}),
    });
    assert.deepEqual(
      batches.flatMap((b) => b.indices).sort((a, b) => a - b),
      fits,
    );
  }
  assert.equal(
    exampleLength(
      keys,
      EXAMPLES.findIndex((e) => e.premise.tokens.length === 20),
    ),
    20,
  );
});
