// A parser disjoint from the composer (models/parser.ts, `--parser separate`): the composer
// follows the parser's trees exactly (each encoding equals a recursive TreeLSTM evaluation of the
// tree the parser chose), the task loss reaches no parser parameter and the policy loss nothing
// else, and a model directory keeps the parser. The REINFORCE estimate against the exact gradient
// is checked for this model beside the shared one (30-rl-spinn.test.ts), the PPO passes in
// training/45-ppo.test.ts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { SHIFT } from "../../src/data/transitions.js";
import { Vocabulary } from "../../src/data/vocabulary.js";
import { crossEntropy, manualSeed, noGrad, scope, type Tensor, tensor } from "../../src/engine/index.js";
import { defaultConfig, Model } from "../../src/models/model.js";
import { loadModelDir, saveModelDir } from "../../src/models/model-dir.js";
import type { TaskBatch } from "../../src/tasks/task.js";
import { isPolicyParameter } from "../../src/training/policy-update.js";
import { policyLoss } from "../../src/training/reinforce.js";
import { batchOf, copiesOf } from "./sentence-batches.js";
import { tinyRlSpinn } from "./tiny-rl-spinn.js";

const SENTENCES = [[2, 5, 7, 3], [4, 4, 9, 1, 6, 2], [8], [3, 10, 11], [5, 6, 7, 8, 9, 10, 11]];

function unparsed(): ReturnType<typeof batchOf> {
  return batchOf(SENTENCES.map((ids) => ({ ids, transitions: null })));
}

/** The composer's encoding of one sentence along a tree, evaluated recursively. */
function recursiveEncoding(model: Model, ids: readonly number[], tree: ArrayLike<number>): Tensor {
  const leaves = model.leaves.forward(batchOf([{ ids, transitions: null }]), false);
  type Node = number | [Node, Node];
  const nodes: Node[] = [];
  let next = 0;
  for (const t of Array.from(tree)) {
    if (t === SHIFT) nodes.push(next++);
    else {
      const right = nodes.pop()!;
      nodes.push([nodes.pop()!, right]);
    }
  }
  const reduce = (model.encoder as unknown as import("../../src/models/spinn.js").SpinnEncoder).reduce;
  const evaluate = (n: Node): Tensor =>
    typeof n === "number" ? leaves.narrow(0, n, 1) : reduce.forward(evaluate(n[0]), evaluate(n[1]), null);
  return evaluate(nodes[0]!).narrow(1, 0, model.config.dHidden);
}

function gradientNorms(model: Model): Map<string, number> {
  return new Map(
    model.store.trainable().map(([name, p]) => [name, p.grad ? p.grad.abs().sum().item() : 0] as const),
  );
}

describe("a separate parser", () => {
  test("the composer follows the parser's greedy trees: each encoding is the recursive TreeLSTM of that tree", () => {
    const model = tinyRlSpinn(41, { parser: true });
    noGrad(() =>
      scope(() => {
        const batch = unparsed();
        const pass = model.sentencePass(batch, false, "greedy");
        const parsed = model.policyPass(batch, false, "greedy").trees!;
        assert.deepEqual([...pass.trees!.transitions], [...parsed.transitions]);
        const { transitions, steps } = pass.trees!;
        SENTENCES.forEach((ids, i) => {
          const tree = transitions.subarray(i * steps, i * steps + 2 * ids.length - 1);
          const expected = recursiveEncoding(model, ids, tree);
          const got = pass.encoding.narrow(0, i, 1);
          assert.ok(got.sub(expected).abs().max().item() < 1e-12, `sentence ${i}`);
        });
        // Trees from a parser with random weights: not all of one shape, so the check has teeth.
        const shapes = new Set(
          SENTENCES.map((ids, i) => transitions.subarray(i * steps, i * steps + 2 * ids.length - 1).join("")),
        );
        assert.ok(shapes.size > 1);
      }),
    );
    model.dispose();
  });

  test("the task loss reaches no parser parameter, the policy loss no other", () => {
    const model = tinyRlSpinn(43, { parser: true });
    const sentence = copiesOf([2, 5, 7, 3, 9], 6);
    const batch = {
      indices: [0, 1, 2, 3, 4, 5],
      labels: Int32Array.from([1, 2, 3, 4, 5, 6]),
      sentence,
    } as TaskBatch;
    manualSeed(3);
    const parser = [...model.store.trainable()].map(([n]) => n).filter((n) => n.startsWith("parser."));
    assert.ok(parser.length > 5 && parser.every(isPolicyParameter), "every parser parameter is the policy's");
    const zero = () => {
      for (const [, p] of model.store.trainable()) p.zeroGrad();
    };
    zero();
    scope(() => {
      const pass = model.run(batch, true, "sample");
      crossEntropy(pass.logits, tensor(batch.labels), "sum").backward();
    });
    for (const [name, norm] of gradientNorms(model)) {
      if (name.startsWith("parser.")) assert.equal(norm, 0, name);
      else if (name.startsWith("encoder.") || name === "embed.weight") assert.ok(norm > 0, name);
    }
    zero();
    scope(() => {
      const pass = model.run(batch, true, "sample");
      policyLoss(pass.logProb!, pass.entropy!, Float32Array.from([1, -1, 0.5, 2, -0.3, 1]), 0.1).backward();
    });
    for (const [name, norm] of gradientNorms(model)) {
      if (name.startsWith("parser.")) {
        if (/transition|embed\.weight|rnn/.test(name)) assert.ok(norm > 0, name);
      } else assert.equal(norm, 0, name);
    }
    model.dispose();
  });

  test("a model directory keeps the parser: the loaded model parses and predicts the same", () => {
    const model = tinyRlSpinn(47, { parser: true });
    // 10 words and the two special tokens: the model's 12 ids.
    const vocab = Vocabulary.build([Array.from({ length: 10 }, (_, i) => `w${i}`)]);
    assert.equal(vocab.size, 12);
    const dir = mkdtempSync(path.join(tmpdir(), "parser-dir-"));
    try {
      saveModelDir(path.join(dir, "m"), model, vocab);
      const loaded = loadModelDir(path.join(dir, "m"), "cpu", "float64");
      assert.deepEqual(loaded.model.config.parser, { dEmbed: 4, dHidden: 3, dTracker: 3 });
      noGrad(() =>
        scope(() => {
          const a = model.sentencePass(unparsed(), false, "greedy");
          const b = loaded.model.sentencePass(unparsed(), false, "greedy");
          assert.deepEqual([...b.trees!.transitions], [...a.trees!.transitions]);
          assert.equal(b.encoding.sub(a.encoding).abs().max().item(), 0);
        }),
      );
      loaded.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      model.dispose();
    }
  });

  test("a composer with a tracker of its own composes along the parser's trees as SPINN-PI along given ones", () => {
    const model = tinyRlSpinn(53, { parser: true, composerTracker: 2 });
    // SPINN-PI of the composer's sizes, its weights copied by name (the composer's, the leaves'
    // and the classifier's: everything but the parser).
    const pi = new Model(
      { ...model.config, encoder: "spinn-pi", dTracker: 2, parser: undefined, composerTracker: undefined },
      {
        dtype: "float64",
      },
    );
    const weights = model.store.all();
    const copied = [...pi.store.all().keys()];
    assert.ok(
      copied.some((name) => name.startsWith("encoder.tracker.")),
      "SPINN-PI's tracker is copied",
    );
    noGrad(() => {
      for (const name of copied) pi.store.get(name).copy_(weights.get(name)!);
      scope(() => {
        const pass = model.sentencePass(unparsed(), false, "greedy");
        const { transitions, steps } = pass.trees!;
        const along = batchOf(
          SENTENCES.map((ids, i) => ({
            ids,
            transitions: transitions.subarray(i * steps, i * steps + 2 * ids.length - 1),
          })),
        );
        const expected = pi.sentencePass(along, false, "given").encoding;
        assert.ok(pass.encoding.sub(expected).abs().max().item() < 1e-12);
        // With the tracker's input to the compositions cut, SPINN-PI encodes otherwise: the check
        // depends on the tracker.
        const track = pi.store.get("encoder.reduce.track.weight");
        track.copy_(track.mul(0));
        const untracked = pi.sentencePass(along, false, "given").encoding;
        assert.ok(untracked.sub(pass.encoding).abs().max().item() > 1e-6);
      });
    });
    pi.dispose();
    model.dispose();
  });

  test("a model directory keeps the composer's tracker", () => {
    const model = tinyRlSpinn(59, { parser: true, composerTracker: 2 });
    const vocab = Vocabulary.build([Array.from({ length: 10 }, (_, i) => `w${i}`)]);
    const dir = mkdtempSync(path.join(tmpdir(), "composer-tracker-dir-"));
    try {
      saveModelDir(path.join(dir, "m"), model, vocab);
      const loaded = loadModelDir(path.join(dir, "m"), "cpu", "float64");
      assert.equal(loaded.model.config.composerTracker, 2);
      noGrad(() =>
        scope(() => {
          const a = model.sentencePass(unparsed(), false, "greedy");
          const b = loaded.model.sentencePass(unparsed(), false, "greedy");
          assert.equal(b.encoding.sub(a.encoding).abs().max().item(), 0);
        }),
      );
      loaded.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      model.dispose();
    }
  });

  test("a config with a parser is checked", () => {
    const base = { ...defaultConfig("listops", "spinn-pi", 12), dEmbed: 4, dHidden: 3, dTracker: 3 };
    assert.throws(
      () => new Model({ ...base, parser: { dEmbed: 4, dHidden: 3, dTracker: 3 } }),
      /a separate parser needs a model that parses \(spinn, rl-spinn\), not spinn-pi/,
    );
    const rl = { ...base, encoder: "rl-spinn" as const };
    assert.throws(
      () => new Model({ ...rl, parser: { dEmbed: 4, dHidden: 0, dTracker: 3 } }),
      /parser\.dHidden must be a positive integer/,
    );
    assert.throws(
      () => new Model({ ...rl, parser: { dEmbed: 5, dHidden: 3, dTracker: 3 } }),
      /parser\.dEmbed must equal dEmbed/,
    );
    assert.throws(
      () => new Model({ ...rl, composerTracker: 3 }),
      /composerTracker sizes the composer's tracker beside a separate parser: it needs parser/,
    );
    assert.throws(
      () => new Model({ ...rl, parser: { dEmbed: 4, dHidden: 3, dTracker: 3 }, composerTracker: 1.5 }),
      /composerTracker must be an integer >= 0/,
    );
  });
});
