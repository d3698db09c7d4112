// The SPINN encoder against independent evaluations of the same trees with the same weights, and
// batch invariance: an example's encoding must not depend on what else is in its batch.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { randomTransitions, SHIFT } from "../../src/data/transitions.js";
import { cat, manualSeed, noGrad, scope, type Tensor, zeros } from "../../src/engine/index.js";
import { stackSentenceBatches } from "../../src/models/batch-layout.js";
import { defaultConfig, Model } from "../../src/models/model.js";
import { batchOf, type Sentence as SentenceOf } from "./sentence-batches.js";

type Sentence = SentenceOf<number[]>;

/** A random binary tree over n leaves, as transitions (seeded by a tiny LCG). */
function randomSentence(n: number, seed: number): Sentence {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const transitions = [...randomTransitions(n, { next })];
  return { ids: Array.from({ length: n }, () => 2 + Math.floor(next() * 18)), transitions };
}

function smallModel(encoder: "spinn-pi" | "spinn-pi-nt" | "lstm" | "bilstm" | "cbow"): Model {
  manualSeed(11);
  const config = {
    ...defaultConfig("listops", encoder, 20),
    dEmbed: 5,
    dHidden: 4,
    dTracker: 3,
    dMlp: 6,
    nMlp: 1,
  };
  return new Model(config, { dtype: "float64" });
}

/** The seed article's formulation: one list of per-example tensors as the stack. */
function sequentialReference(model: Model, s: Sentence): Tensor {
  const leaves = model.leaves.forward(batchOf([s]), false);
  const enc = model.encoder as unknown as import("../../src/models/spinn.js").SpinnEncoder;
  const H = model.config.dHidden;
  const nullState = zeros([1, 2 * H], { dtype: "float64" });
  const stack: Tensor[] = [];
  let buffer = 0;
  let h: Tensor | null = enc.tracker ? zeros([1, model.config.dTracker], { dtype: "float64" }) : null;
  let c = h;
  for (const t of s.transitions) {
    if (enc.tracker && h && c) {
      const top = (x: Tensor | undefined) => (x ?? nullState).narrow(1, 0, H);
      const bufTop = buffer < s.ids.length ? leaves.narrow(0, buffer, 1) : nullState;
      const x = cat([top(bufTop), top(stack[stack.length - 1]), top(stack[stack.length - 2])], 1);
      ({ h, c } = enc.tracker.cell.forward(x, h, c));
    }
    if (t === SHIFT) stack.push(leaves.narrow(0, buffer++, 1));
    else {
      const right = stack.pop()!;
      const left = stack.pop()!;
      stack.push(enc.reduce.forward(left, right, h));
    }
  }
  assert.equal(stack.length, 1);
  return stack[0]!.narrow(1, 0, H);
}

/** Without a tracker SPINN is a TreeLSTM: encode(tree) = reduce(encode(left), encode(right)). */
function recursiveReference(model: Model, s: Sentence): Tensor {
  const leaves = model.leaves.forward(batchOf([s]), false);
  const enc = model.encoder as unknown as import("../../src/models/spinn.js").SpinnEncoder;
  // Rebuild the tree from the transitions, then evaluate it recursively.
  type Node = number | [Node, Node];
  const nodes: Node[] = [];
  let next = 0;
  for (const t of s.transitions) {
    if (t === SHIFT) nodes.push(next++);
    else {
      const r = nodes.pop()!;
      nodes.push([nodes.pop()!, r]);
    }
  }
  const evaluate = (n: Node): Tensor =>
    typeof n === "number" ? leaves.narrow(0, n, 1) : enc.reduce.forward(evaluate(n[0]), evaluate(n[1]), null);
  return evaluate(nodes[0]!).narrow(1, 0, model.config.dHidden);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().item();
}

const sentences = [1, 2, 5, 9, 3, 14, 7].map((n, i) => randomSentence(n, 100 + i));

describe("SPINN encoder", () => {
  test("SPINN-PI matches a per-example stack evaluation of the same trees", () => {
    const model = smallModel("spinn-pi");
    noGrad(() =>
      scope(() => {
        const batch = model.encode(batchOf(sentences), false);
        sentences.forEach((s, i) => {
          assert.ok(
            maxAbsDiff(batch.narrow(0, i, 1), sequentialReference(model, s)) < 1e-12,
            `sentence ${i}`,
          );
        });
      }),
    );
    model.dispose();
  });

  test("SPINN-PI's parameter gradients equal the per-example evaluation's", () => {
    // The batched pass takes each weight's gradient once for all steps (BatchedLinear); the
    // per-example evaluation takes it call by call.
    const model = smallModel("spinn-pi");
    const params = model.store.trainable();
    const gradsOf = (loss: () => Tensor) =>
      scope(() => {
        for (const [, p] of params) p.zeroGrad();
        loss().backward();
        return params.map(([name, p]) => [name, p.grad?.clone() ?? null] as const);
      });
    const weights = (i: number) => zeros([1, 4], { dtype: "float64" }).add(i + 1);
    const batched = gradsOf(() => {
      const enc = model.encode(batchOf(sentences), false);
      return sentences.map((_, i) => enc.narrow(0, i, 1).mul(weights(i)).sum()).reduce((a, b) => a.add(b));
    });
    const reference = gradsOf(() =>
      sentences.map((s, i) => sequentialReference(model, s).mul(weights(i)).sum()).reduce((a, b) => a.add(b)),
    );
    batched.forEach(([name, g], k) => {
      const r = reference[k]![1];
      if (!g || !r) return assert.equal(g, r, name);
      assert.ok(maxAbsDiff(g, r) < 1e-12, name);
    });
    assert.ok(batched.filter(([, g]) => g).length >= 8);
    model.dispose();
  });

  test("SPINN-PI-NT matches a recursive TreeLSTM evaluation", () => {
    const model = smallModel("spinn-pi-nt");
    noGrad(() =>
      scope(() => {
        const batch = model.encode(batchOf(sentences), false);
        sentences.forEach((s, i) => {
          assert.ok(maxAbsDiff(batch.narrow(0, i, 1), recursiveReference(model, s)) < 1e-12, `sentence ${i}`);
        });
      }),
    );
    model.dispose();
  });

  for (const kind of ["spinn-pi", "spinn-pi-nt", "lstm", "bilstm", "cbow"] as const) {
    test(`${kind}: an example's encoding does not depend on its batch`, () => {
      const model = smallModel(kind);
      noGrad(() =>
        scope(() => {
          const mixed = model.encode(batchOf(sentences), false);
          const reversed = model.encode(batchOf([...sentences].reverse()), false);
          sentences.forEach((s, i) => {
            const alone = model.encode(batchOf([s]), false);
            assert.ok(maxAbsDiff(mixed.narrow(0, i, 1), alone) < 1e-9, `sentence ${i} alone vs mixed`);
            const j = sentences.length - 1 - i;
            assert.ok(maxAbsDiff(reversed.narrow(0, j, 1), alone) < 1e-9, `sentence ${i} in another batch`);
          });
        }),
      );
      model.dispose();
    });
  }

  test("gradients reach every trainable parameter through the thin stack", () => {
    const model = smallModel("spinn-pi");
    scope(() => {
      const batch = batchOf(sentences.slice(0, 4));
      const logits = model.forward(
        { indices: [0, 1, 2, 3], labels: new Int32Array([1, 2, 3, 4]), sentence: batch },
        true,
      );
      logits.sum().backward();
      for (const [name, p] of model.store.trainable()) {
        const g = p.grad;
        assert.ok(g, `${name} has no gradient`);
        if (name !== "embed.weight") assert.ok(g.abs().sum().item() > 0, `${name} has a zero gradient`);
      }
    });
    model.dispose();
  });

  test("premise and hypothesis stacked into one batch keep their own trees", () => {
    const a = batchOf(sentences.slice(0, 3));
    const b = batchOf(sentences.slice(3, 5));
    const both = stackSentenceBatches(a, b);
    assert.equal(both.size, 5);
    assert.deepEqual([...both.lengths], [1, 2, 5, 9, 3]);
    const model = smallModel("spinn-pi");
    noGrad(() =>
      scope(() => {
        const joint = model.encode(both, false);
        const sep = cat([model.encode(a, false), model.encode(b, false)], 0);
        assert.ok(maxAbsDiff(joint, sep) < 1e-9);
      }),
    );
    model.dispose();
  });
});
