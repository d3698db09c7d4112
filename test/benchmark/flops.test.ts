// The FLOP count behind `spinn bench`'s GFLOP/s, against a count by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { classifierFlops, nliTrainingStepFlops, spinnEncoderFlops } from "../../src/benchmark/flops.js";
import type { SentenceBatch } from "../../src/data/batching.js";
import { defaultConfig } from "../../src/models/model.js";

const sentences = (lengths: number[]): SentenceBatch => ({
  size: lengths.length,
  width: Math.max(...lengths),
  ids: new Int32Array(0),
  lengths: Int32Array.from(lengths),
  steps: 0,
  transitions: null,
});

test("SPINN's matrix-product FLOPs, counted by hand", () => {
  const c = { ...defaultConfig("nli", "spinn-pi", 10), dEmbed: 3, dHidden: 2, dTracker: 1, dMlp: 5, nMlp: 2 };
  // Sentences of 3 and 1 words: 4 tokens, 5 + 1 = 6 transitions, 2 + 0 = 2 reductions.
  // projection 4 tokens × (3 → 4): 2·4·3·4 = 96; tracker 6 × ((6 + 1) → 4): 2·6·7·4 = 336;
  // composition 2 × ((4 + 1) → 10): 2·2·5·10 = 200.
  assert.equal(spinnEncoderFlops(sentences([3, 1]), c), 96 + 336 + 200);
  // Without a tracker: composition 2 × (4 → 10) = 160.
  assert.equal(spinnEncoderFlops(sentences([3, 1]), { ...c, encoder: "spinn-pi-nt" }), 96 + 160);
  // Classifier for 2 pairs: 8 → 5 → 5 → 3: 2·2·(40 + 25 + 15) = 320.
  assert.equal(classifierFlops(2, c), 320);
  assert.equal(classifierFlops(2, { ...c, nMlp: 0 }), 2 * 2 * 8 * 3);
  const batch = {
    premise: sentences([3, 1]),
    hypothesis: sentences([2, 2]),
    labels: new Int32Array(2),
    indices: [0, 1],
  };
  // Hypotheses: 4 tokens, 6 transitions, 2 reductions: the same as the premises.
  assert.equal(nliTrainingStepFlops(batch, c), 3 * (2 * 632 + 320));
});
