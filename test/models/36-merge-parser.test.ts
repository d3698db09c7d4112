// The merge parser (models/merge-parser.ts, `--parser merge`): its greedy and given-order passes
// against a brute-force parse that recomposes every pair at every step (the parser itself only
// recomposes the pairs beside each merge); the composer follows its trees; the REINFORCE
// estimate over merge orders matches the exact gradient of the expected reward, enumerating
// every order of a 4-word sentence (6 orders, 5 trees); the task and policy losses reach
// disjoint parameters; PPO rescoring by merge order; samples independent of a data-parallel
// split; a model directory keeps the parser; configs and the CLI are checked.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { REDUCE, SHIFT } from "../../src/data/transitions.js";
import { Vocabulary } from "../../src/data/vocabulary.js";
import {
  crossEntropy,
  manualSeed,
  noGrad,
  scope,
  type Tensor,
  tensor,
  zerosLike,
} from "../../src/engine/index.js";
import { rollingUnsupported } from "../../src/inference/rolling-batch.js";
import { BatchShard } from "../../src/models/batch-shard.js";
import { chooseMerge, MergeParser, postOrderTransitions } from "../../src/models/merge-parser.js";
import { defaultConfig, Model } from "../../src/models/model.js";
import { loadModelDir, saveModelDir } from "../../src/models/model-dir.js";
import type { SpinnEncoder } from "../../src/models/spinn.js";
import type { TaskBatch } from "../../src/tasks/task.js";
import { isPolicyParameter } from "../../src/training/policy-update.js";
import { treeLogProb } from "../../src/training/ppo.js";
import { policyLoss } from "../../src/training/reinforce.js";
import { assertMatchesExactGradient, exactGradient, gradients, zeroGrads } from "./policy-gradient-check.js";
import { batchOf, copiesOf } from "./sentence-batches.js";
import { tinyRlSpinn } from "./tiny-rl-spinn.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "../../src/cli/main.js");

const SENTENCES = [[2, 5, 7, 3], [4, 4, 9, 1, 6, 2], [8], [3, 10], [5, 6, 7, 8, 9, 10, 11]];

const unparsed = () => batchOf(SENTENCES.map((ids) => ({ ids, transitions: null })));

function parserOf(model: Model): MergeParser {
  assert.ok(model.parser instanceof MergeParser);
  return model.parser;
}

type Node = number | [Node, Node];

function transitionsOf(node: Node): number[] {
  return typeof node === "number" ? [SHIFT] : [...transitionsOf(node[0]), ...transitionsOf(node[1]), REDUCE];
}

/**
 * The parse of one sentence as the method defines it, by brute force: at every step compose every
 * adjacent pair from scratch, score each parent, take the log-softmax, and merge the pair that
 * `choose` picks. Returns the tree, the merge order and the summed log-probability (a number).
 */
function bruteForceParse(
  parser: MergeParser,
  ids: readonly number[],
  choose: (logp: number[], step: number) => number,
): { transitions: number[]; merges: number[]; logProb: number } {
  const H = parser.sizes.dHidden;
  return noGrad(() =>
    scope(() => {
      const leaves = parser.leafStates(batchOf([{ ids, transitions: null }]));
      let nodes: { state: Tensor; tree: Node }[] = ids.map((_, j) => ({
        state: leaves.narrow(0, j, 1),
        tree: j,
      }));
      const merges: number[] = [];
      let logProb = 0;
      for (let step = 0; nodes.length > 1; step++) {
        const parents = nodes
          .slice(0, -1)
          .map((left, j) => parser.reduce.forward(left.state, nodes[j + 1]!.state, null));
        const scores = parents.map((p) => p.narrow(1, 0, H).matmul(parser.query).item());
        const top = Math.max(...scores);
        const logZ = top + Math.log(scores.reduce((s, x) => s + Math.exp(x - top), 0));
        const logp = scores.map((s) => s - logZ);
        const j = choose(logp, step);
        merges.push(j);
        logProb += logp[j]!;
        const parent = { state: parents[j]!, tree: [nodes[j]!.tree, nodes[j + 1]!.tree] as Node };
        nodes = [...nodes.slice(0, j), parent, ...nodes.slice(j + 2)];
      }
      return { transitions: transitionsOf(nodes[0]!.tree), merges, logProb };
    }),
  );
}

const argmax = (xs: number[]) => xs.reduce((best, x, j) => (x > xs[best]! ? j : best), 0);

describe("merge parser: the pieces", () => {
  test("chooseMerge: the most probable pair (the first of equals), or the pair the draw falls in", () => {
    const logp = Float32Array.from([9, Math.log(0.2), Math.log(0.5), Math.log(0.3), 9]);
    assert.equal(chooseMerge(logp, 1, 3, null), 1);
    assert.equal(chooseMerge(Float32Array.from([-1, -1, -2]), 0, 3, null), 0);
    assert.equal(chooseMerge(logp, 1, 3, 0.19), 0);
    assert.equal(chooseMerge(logp, 1, 3, 0.21), 1);
    assert.equal(chooseMerge(logp, 1, 3, 0.69), 1);
    assert.equal(chooseMerge(logp, 1, 3, 0.71), 2);
    assert.equal(chooseMerge(logp, 1, 3, 0.9999999), 2);
    assert.equal(chooseMerge(Float32Array.from([0]), 0, 1, 0.5), 0);
  });

  test("postOrderTransitions: a tree's SHIFT/REDUCE sequence from its parents' children", () => {
    const S = SHIFT;
    const R = REDUCE;
    // Leaves 0-3; 10 = (1 2), 11 = (0 10), 12 = (11 3): ((0 (1 2)) 3).
    const children = new Map<number, [number, number]>([
      [10, [1, 2]],
      [11, [0, 10]],
      [12, [11, 3]],
    ]);
    assert.deepEqual(postOrderTransitions(12, children), [S, S, S, R, R, S, R]);
    assert.deepEqual(postOrderTransitions(10, children), [S, S, R]);
    assert.deepEqual(postOrderTransitions(3, children), [S]);
    // A right-branching tree of 3,000 leaves: no recursion to overflow.
    const deep = new Map<number, [number, number]>();
    let root = 2999;
    for (let j = 2998; j >= 0; j--) {
      deep.set(10000 + j, [j, root]);
      root = 10000 + j;
    }
    const t = postOrderTransitions(root, deep);
    assert.equal(t.length, 5999);
    assert.deepEqual(t.slice(2998, 3001), [S, S, R]);
  });
});

describe("the merge parser", () => {
  test("greedy passes equal the brute-force parse: trees, merge orders, log-probabilities", () => {
    const model = tinyRlSpinn(51, { parser: "merge" });
    const parser = parserOf(model);
    noGrad(() =>
      scope(() => {
        const pass = parser.run(unparsed(), false, "greedy");
        const { transitions, steps, merges } = pass.trees!;
        const logProb = pass.policy!.logProb.toFloat64Array();
        const shapes = new Set<string>();
        SENTENCES.forEach((ids, i) => {
          const expected = bruteForceParse(parser, ids, argmax);
          const tree = Array.from(transitions.subarray(i * steps, i * steps + 2 * ids.length - 1));
          assert.deepEqual(tree, expected.transitions, `sentence ${i}`);
          assert.deepEqual(Array.from(merges![i]!), expected.merges, `sentence ${i}`);
          assert.ok(
            Math.abs(logProb[i]! - expected.logProb) < 1e-12,
            `sentence ${i}: ${logProb[i]} vs ${expected.logProb}`,
          );
          shapes.add(tree.join(""));
        });
        // Trees from random weights: not all of one shape, so the check has teeth.
        assert.ok(shapes.size > 2);
      }),
    );
    model.dispose();
  });

  test("scoreMerges rescores a sampled order exactly (the brute force agrees), and checks the orders", () => {
    const model = tinyRlSpinn(52, { parser: "merge" });
    const parser = parserOf(model);
    noGrad(() =>
      scope(() => {
        manualSeed(9);
        const sampled = parser.run(unparsed(), true, "sample");
        const merges = sampled.trees!.merges!;
        const again = parser.scoreMerges(unparsed(), merges);
        assert.deepEqual([...again.trees!.transitions], [...sampled.trees!.transitions]);
        assert.equal(again.policy!.logProb.sub(sampled.policy!.logProb).abs().max().item(), 0);
        assert.equal(again.policy!.entropy.sub(sampled.policy!.entropy).abs().max().item(), 0);
        const logProb = again.policy!.logProb.toFloat64Array();
        SENTENCES.forEach((ids, i) => {
          const expected = bruteForceParse(parser, ids, (_, step) => merges[i]![step]!);
          assert.ok(Math.abs(logProb[i]! - expected.logProb) < 1e-12, `sentence ${i}`);
        });
        const orders = SENTENCES.map((ids) => new Int32Array(Math.max(0, ids.length - 1)));
        assert.throws(
          () => parser.scoreMerges(unparsed(), orders.slice(1)),
          /4 merge orders for a batch of 5 sentences/,
        );
        assert.throws(
          () => parser.scoreMerges(unparsed(), [orders[0]!.subarray(1), ...orders.slice(1)]),
          /sentence 0: 2 merges for 4 words \(expected 3\)/,
        );
        const bad = orders.map((o) => o.slice());
        bad[1]![2] = 3; // the third merge of 6 words chooses among 3 pairs: 0, 1 or 2
        assert.throws(() => parser.scoreMerges(unparsed(), bad), /sentence 1, merge 2: pair 3 of 3/);
        assert.throws(() => parser.run(unparsed(), false, "given"), /scores only merge orders/);
      }),
    );
    model.dispose();
  });

  test("the composer follows the parser's trees: each encoding is the recursive TreeLSTM of that tree", () => {
    const model = tinyRlSpinn(53, { parser: "merge" });
    noGrad(() =>
      scope(() => {
        const batch = unparsed();
        const pass = model.sentencePass(batch, false, "greedy");
        const { transitions, steps } = pass.trees!;
        const leaves = model.leaves.forward(batch, false);
        const reduce = (model.encoder as SpinnEncoder).reduce;
        let offset = 0;
        SENTENCES.forEach((ids, i) => {
          const nodes: Tensor[] = [];
          let next = offset;
          for (const t of transitions.subarray(i * steps, i * steps + 2 * ids.length - 1)) {
            if (t === SHIFT) nodes.push(leaves.narrow(0, next++, 1));
            else {
              const right = nodes.pop()!;
              nodes.push(reduce.forward(nodes.pop()!, right, null));
            }
          }
          offset += ids.length;
          const expected = nodes[0]!.narrow(1, 0, model.config.dHidden);
          assert.ok(pass.encoding.narrow(0, i, 1).sub(expected).abs().max().item() < 1e-12, `sentence ${i}`);
        });
      }),
    );
    model.dispose();
  });

  test("the REINFORCE estimate matches the exact gradient of the expected reward (4 words, 6 merge orders)", () => {
    const model = tinyRlSpinn(55, { parser: "merge" });
    const parser = parserOf(model);
    const ids = [2, 5, 7, 3];
    const orders = [0, 1, 2].flatMap((a) => [0, 1].map((b) => Int32Array.from([a, b, 0])));
    const key = (t: ArrayLike<number>) => Array.from(t).join("");
    // A reward per tree: the orders (0, 1, 0) and (2, 0, 0) both build (1 2) (3 4).
    const treeReward = new Map<string, number>();
    const rewardOf = (tree: string) => {
      if (!treeReward.has(tree)) treeReward.set(tree, [1.0, -2.0, 0.5, 3.0, -1.0][treeReward.size]!);
      return treeReward.get(tree)!;
    };
    const p: number[] = [];
    const reward: number[] = [];
    const gradLogP: Float64Array[] = [];
    for (const order of orders) {
      scope(() => {
        zeroGrads(model);
        const pass = parser.scoreMerges(copiesOf(ids, 1), [order]);
        pass.policy!.logProb.sum().backward();
        p.push(Math.exp(pass.policy!.logProb.item()));
        reward.push(rewardOf(key(pass.trees!.transitions)));
        gradLogP.push(gradients(model));
      });
    }
    assert.equal(treeReward.size, 5, "6 orders, 5 trees");
    const total = p.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-12, `the orders' probabilities sum to ${total}`);
    const outcomes = { p, reward, gradLogP };
    const { expected, exact } = exactGradient(outcomes);
    assert.ok(
      exact.some((g) => Math.abs(g) > 1e-4),
      "the policy's gradient is not trivially zero",
    );

    // Estimate: M sampled orders, advantages against the exact expected reward (a constant
    // baseline: unbiased), through policyLoss (whose gradient is −estimate).
    const M = 20000;
    manualSeed(5);
    const counts = new Array<number>(orders.length).fill(0);
    let estimate = new Float64Array(exact.length);
    scope(() => {
      zeroGrads(model);
      const pass = parser.run(copiesOf(ids, M), true, "sample");
      const adv = new Float32Array(M);
      pass.trees!.merges!.forEach((m, i) => {
        const k = orders.findIndex((o) => key(o) === key(m));
        assert.ok(k >= 0, "a sampled order is one of the orders");
        counts[k]!++;
        adv[i] = reward[k]! - expected;
      });
      policyLoss(pass.policy!.logProb, pass.policy!.entropy, adv, 0).backward();
      estimate = gradients(model).map((g) => -g);
    });
    assertMatchesExactGradient(outcomes, counts, estimate);
    model.dispose();
  });

  test("entropy: log 3 + log 2 for a uniform policy over 4 words, nothing for forced merges", () => {
    const model = tinyRlSpinn(56, { parser: "merge" });
    const parser = parserOf(model);
    noGrad(() => parser.query.copy_(zerosLike(parser.query)));
    scope(() => {
      const batch = batchOf([[2, 5, 7, 3], [4, 4], [6]].map((ids) => ({ ids, transitions: null })));
      const pass = parser.run(batch, false, "greedy");
      const entropy = pass.policy!.entropy.toFloat64Array();
      const logProb = pass.policy!.logProb.toFloat64Array();
      const uniform = Math.log(3) + Math.log(2);
      assert.ok(Math.abs(entropy[0]! - uniform) < 1e-12 && Math.abs(logProb[0]! + uniform) < 1e-12);
      assert.deepEqual([entropy[1], entropy[2], logProb[1], logProb[2]], [0, 0, 0, 0]);
      // Equal scores: greedy merges the first pair each time, a left-branching tree.
      assert.deepEqual(Array.from(pass.trees!.merges![0]!), [0, 0, 0]);
    });
    model.dispose();
  });

  test("the task loss reaches no parser parameter, the policy loss no other", () => {
    const model = tinyRlSpinn(57, { parser: "merge" });
    const batch = {
      indices: [0, 1, 2, 3, 4, 5],
      labels: Int32Array.from([1, 2, 3, 4, 5, 6]),
      sentence: copiesOf([2, 5, 7, 3, 9], 6),
    } as TaskBatch;
    const parser = model.store
      .trainable()
      .map(([n]) => n)
      .filter((n) => n.startsWith("parser."));
    assert.ok(
      parser.length >= 8 && parser.every(isPolicyParameter),
      "every parser parameter is the policy's",
    );
    const norms = () =>
      new Map(model.store.trainable().map(([n, p]) => [n, p.grad ? p.grad.abs().sum().item() : 0]));
    manualSeed(3);
    zeroGrads(model);
    scope(() =>
      crossEntropy(model.run(batch, true, "sample").logits, tensor(batch.labels), "sum").backward(),
    );
    for (const [name, norm] of norms()) {
      if (name.startsWith("parser.")) assert.equal(norm, 0, name);
      else if (name.startsWith("encoder.") || name === "embed.weight") assert.ok(norm > 0, name);
    }
    zeroGrads(model);
    scope(() => {
      const pass = model.run(batch, true, "sample");
      policyLoss(pass.logProb!, pass.entropy!, Float32Array.from([1, -1, 0.5, 2, -0.3, 1]), 0.1).backward();
    });
    for (const [name, norm] of norms()) {
      if (name.startsWith("parser.")) assert.ok(norm > 0, name);
      else assert.equal(norm, 0, name);
    }
    model.dispose();
  });

  test("PPO rescores a step's sample by its merge orders: the same log-probabilities", () => {
    const model = tinyRlSpinn(58, { parser: "merge" });
    const batch = {
      indices: [0, 1, 2, 3, 4],
      labels: Int32Array.from([1, 2, 3, 4, 5]),
      sentence: unparsed(),
    } as TaskBatch;
    noGrad(() =>
      scope(() => {
        manualSeed(4);
        const pass = model.run(batch, true, "sample");
        assert.equal(pass.merges!.length, SENTENCES.length);
        const again = treeLogProb(model, batch, pass.trees!, pass.merges);
        assert.equal(again.sub(pass.logProb!).abs().max().item(), 0);
        assert.throws(() => treeLogProb(model, batch, pass.trees!), /rescored by their merge orders/);
      }),
    );
    model.dispose();
  });

  test("a sentence's sample does not depend on the data-parallel split of its batch", () => {
    const model = tinyRlSpinn(59, { parser: "merge" });
    const parser = parserOf(model);
    noGrad(() =>
      scope(() => {
        const whole = unparsed();
        manualSeed(12);
        const all = parser.run(whole, true, "sample").trees!.merges!;
        // This rank holds sentences 1 and 4 of the global batch.
        const local = batchOf([1, 4].map((i) => ({ ids: SENTENCES[i]!, transitions: null })));
        const shard = new BatchShard(null, whole.lengths, Int32Array.from([1, 4]), 5, 0);
        manualSeed(12);
        const part = parser.run(local, true, "sample", shard).trees!.merges!;
        assert.deepEqual(
          part.map((m) => Array.from(m)),
          [all[1], all[4]].map((m) => Array.from(m!)),
        );
        // Not all greedy: the draws matter.
        const greedy = parser.run(whole, false, "greedy").trees!.merges!;
        assert.notDeepEqual(
          all.map((m) => Array.from(m)),
          greedy.map((m) => Array.from(m)),
        );
      }),
    );
    model.dispose();
  });

  test("a batch with no sentence (a data-parallel rank's empty part) parses to nothing", () => {
    const model = tinyRlSpinn(60, { parser: "merge" });
    scope(() => {
      const empty = {
        size: 0,
        width: 0,
        ids: new Int32Array(0),
        lengths: new Int32Array(0),
        steps: 0,
        transitions: null,
      };
      const pass = parserOf(model).run(empty, true, "sample");
      assert.deepEqual(pass.encoding.shape, [0, 3]);
      assert.deepEqual([pass.policy!.logProb.shape, pass.trees!.merges], [[0], []]);
    });
    model.dispose();
  });

  test("a model directory keeps the merge parser; it runs in no rolling batch", () => {
    const model = tinyRlSpinn(61, { parser: "merge" });
    const vocab = Vocabulary.build([Array.from({ length: 10 }, (_, i) => `w${i}`)]);
    const dir = mkdtempSync(path.join(tmpdir(), "merge-parser-dir-"));
    try {
      saveModelDir(path.join(dir, "m"), model, vocab);
      const loaded = loadModelDir(path.join(dir, "m"), "cpu", "float64");
      assert.deepEqual(loaded.model.config.parser, { kind: "merge", dEmbed: 4, dHidden: 3, dTracker: 3 });
      noGrad(() =>
        scope(() => {
          const a = model.sentencePass(unparsed(), false, "greedy");
          const b = loaded.model.sentencePass(unparsed(), false, "greedy");
          assert.deepEqual([...b.trees!.transitions], [...a.trees!.transitions]);
          assert.equal(b.encoding.sub(a.encoding).abs().max().item(), 0);
        }),
      );
      assert.match(rollingUnsupported(loaded.model) ?? "", /merge parser/);
      loaded.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      model.dispose();
    }
  });

  test("configs and flags are checked", () => {
    const base = { ...defaultConfig("listops", "spinn", 12), dEmbed: 4, dHidden: 3, dTracker: 3 };
    const merge = { kind: "merge" as const, dEmbed: 4, dHidden: 3, dTracker: 3 };
    assert.throws(
      () => new Model({ ...base, parser: merge }),
      /the merge parser learns from the reward alone: it needs rl-spinn, not spinn/,
    );
    assert.throws(
      () =>
        new Model({
          ...base,
          encoder: "rl-spinn",
          parser: { ...merge, kind: "chart" as unknown as "merge" },
        }),
      /parser\.kind must be shift-reduce or merge, not "chart"/,
    );
    // Files that exist (the flags are checked before the data is read); --out is never written.
    const r = spawnSync(
      process.execPath,
      [
        cli,
        "train",
        "--task",
        "listops",
        "--train",
        cli,
        "--dev",
        cli,
        "--model",
        "spinn",
        "--parser",
        "merge",
      ].concat(["--out", path.join(here, "never-written")]),
      { encoding: "utf8" },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /--parser merge learns its trees from the reward alone: it applies to rl-spinn, not spinn/,
    );
    const bench = spawnSync(
      process.execPath,
      [cli, "bench", "--synthetic", "10", "--model", "spinn", "--parser", "merge"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(bench.status, 2, bench.stderr);
    assert.match(
      bench.stderr,
      /--parser merge learns its trees from the reward alone: it applies to rl-spinn, not spinn/,
    );
  });
});
