// An easy-first parser (`--parser merge`): the parser of Choi et al. 2018 ("Learning to compose
// task-specific tree structures"), trained by policy gradients as Havrylov et al. 2019
// ("Cooperative learning of disjoint syntax and semantics") train theirs. A sentence starts as
// its words; each step composes every adjacent pair of nodes with the parser's own TreeLSTM,
// scores each candidate parent by q · h, and merges one pair (drawn from the softmax of the
// scores in training, the best one at evaluation) until one node is left. The leaves see their
// left context through an LSTM over the words, as in Havrylov et al.
//
// Only the two pairs beside a merge change, so each step composes at most two new candidates per
// sentence and the rest keep their states and scores: n − 1 compositions to start and at most
// 2(n − 2) more for a sentence of n words, instead of one per pair and step (O(n²)).
//
// The tree's SHIFT/REDUCE transitions (post-order) are what the composer follows; the policy
// terms are those of the merges. The log-probability is the merge order's, not the tree's (a
// tree has many merge orders): there is no "given" source of trees; scoreMerges rescores a
// merge order (what a PPO pass does with a step's sample).
import type { SentenceBatch } from "../data/batching.js";
import { REDUCE, SHIFT, SKIP } from "../data/transitions.js";
import {
  type Device,
  type DType,
  embedding,
  Linear,
  LSTMCell,
  type ParamPath,
  StateMemory,
  stack,
  type Tensor,
  tensor,
  zeros,
} from "../engine/index.js";
import { BatchShard } from "./batch-shard.js";
import {
  type EncoderPass,
  type FollowedTrees,
  type PolicyTerms,
  rowRange,
  type TransitionSource,
} from "./encoder.js";
import { Reduce, reduceStep } from "./spinn.js";

/** The merge parser's sizes: embeddings, TreeLSTM (dHidden) and context LSTM (dTracker). */
export interface MergeParserSizes {
  dEmbed: number;
  dHidden: number;
  dTracker: number;
}

/**
 * Which pair to merge from the log-probabilities `logp` of a sentence's `count` candidates
 * (starting at `offset`): the most probable (greedy, the first of equals), or the one whose
 * cumulative probability first exceeds the uniform draw `u` (sample).
 */
export function chooseMerge(logp: Float32Array, offset: number, count: number, u: number | null): number {
  if (u === null) {
    let best = 0;
    for (let j = 1; j < count; j++) if (logp[offset + j]! > logp[offset + best]!) best = j;
    return best;
  }
  let cumulative = 0;
  for (let j = 0; j < count - 1; j++) {
    cumulative += Math.exp(logp[offset + j]!);
    if (u < cumulative) return j;
  }
  // Rounding can leave the sum of the probabilities a little under 1: the last pair takes the rest.
  return count - 1;
}

/**
 * A binary tree's SHIFT/REDUCE transitions in post-order: `root` and every node under it,
 * `children` giving each internal node's left and right child (a node without is a leaf).
 */
export function postOrderTransitions(
  root: number,
  children: ReadonlyMap<number, readonly [number, number]>,
): number[] {
  const out: number[] = [];
  // An explicit stack (trees of thousands of words would overflow recursion): each entry a node
  // and whether its children were pushed already.
  const pending: [number, boolean][] = [[root, false]];
  while (pending.length > 0) {
    const top = pending[pending.length - 1]!;
    const kids = children.get(top[0]);
    if (!kids) {
      out.push(SHIFT);
      pending.pop();
    } else if (top[1]) {
      out.push(REDUCE);
      pending.pop();
    } else {
      top[1] = true;
      pending.push([kids[1], false], [kids[0], false]);
    }
  }
  return out;
}

export class MergeParser {
  readonly embed: Tensor;
  /** The left context of each word (an LSTM over the sentence). */
  readonly context: LSTMCell;
  /** A leaf's [h | c] from its context: tanh(W x + b), as the composed nodes' range. */
  readonly leaf: Linear;
  /** The parser's TreeLSTM (no tracker input). */
  readonly reduce: Reduce;
  /** A candidate parent's score: q · h. */
  readonly query: Tensor;

  constructor(
    path: ParamPath,
    readonly sizes: MergeParserSizes,
    vocabSize: number,
  ) {
    this.embed = path.sub("embed").normal("weight", [vocabSize, sizes.dEmbed]);
    this.context = new LSTMCell(path.sub("context"), sizes.dEmbed, sizes.dTracker);
    this.leaf = new Linear(path.sub("leaf"), sizes.dTracker, 2 * sizes.dHidden);
    this.reduce = new Reduce(path.sub("reduce"), sizes.dHidden, 0);
    // Small, as Havrylov et al.'s: the first trees are close to uniformly random.
    this.query = path.normal("query", [sizes.dHidden], 0.01);
  }

  /**
   * The parser's pass: the trees it built (greedy or sampled merges) and their policy terms; the
   * encoding is each root's h (N × dHidden). The draws are the shard's global batch's, so a
   * sentence's sample does not depend on how a data-parallel run split the batch.
   */
  run(
    batch: SentenceBatch,
    _training: boolean,
    source: TransitionSource,
    shard = BatchShard.whole(batch.lengths, batch.size),
  ): EncoderPass {
    if (source === "given")
      throw new Error(
        "the merge parser scores only merge orders (scoreMerges), not given trees: a tree has many",
      );
    const draws = source === "sample" ? shard.transitionDraws() : null;
    return this.parse(batch, (i, step, logp, offset, count) =>
      chooseMerge(logp, offset, count, draws ? draws.draws[step * draws.stride + draws.index[i]!]! : null),
    );
  }

  /**
   * The pass that makes the given merges (`merges[i]`: sentence i's n − 1 choices, as a pass's
   * trees.merges holds them): their trees and the policy terms of that merge order, e.g. to
   * rescore a sample after the policy moved (PPO).
   */
  scoreMerges(batch: SentenceBatch, merges: readonly Int32Array[]): EncoderPass {
    if (merges.length !== batch.size)
      throw new RangeError(`${merges.length} merge orders for a batch of ${batch.size} sentences`);
    batch.lengths.forEach((n, i) => {
      if (merges[i]!.length !== Math.max(0, n - 1))
        throw new RangeError(`sentence ${i}: ${merges[i]!.length} merges for ${n} words (expected ${n - 1})`);
    });
    return this.parse(batch, (i, step, _logp, _offset, count) => {
      const j = merges[i]![step]!;
      if (!(Number.isInteger(j) && j >= 0 && j < count))
        throw new RangeError(`sentence ${i}, merge ${step}: pair ${j} of ${count}`);
      return j;
    });
  }

  /**
   * The loop: `choose` picks sentence i's pair at `step` from its `count` candidates, whose
   * log-probabilities are logp[offset …].
   */
  private parse(
    batch: SentenceBatch,
    choose: (i: number, step: number, logp: Float32Array, offset: number, count: number) => number,
  ): EncoderPass {
    const N = batch.size;
    const W = batch.width;
    const H = this.sizes.dHidden;
    const options = { dtype: this.query.dtype, device: this.query.device };
    // Rows: the leaves (sentence i's word j at i·W + j), then the candidate parents as they are
    // made, then one row that stays zero: the score of a sentence already parsed (below).
    let candidates = 0;
    for (const n of batch.lengths) candidates += Math.max(0, 3 * n - 5);
    const zeroRow = N * W + candidates;
    const memory = new StateMemory(zeroRow + 1, 2 * H, options);
    const scores = new StateMemory(zeroRow + 1, 1, options);
    memory.write(rowRange(0, N * W), this.leafStates(batch));
    const product = this.reduce.stepProduct(candidates);
    let nextRow = N * W;
    // The fresh pairs' candidate parents: SPINN's REDUCE step into new rows, and their scores.
    const compose = (fresh: Frontier["fresh"]): Int32Array => {
      const out = Int32Array.from(fresh.left, () => nextRow++);
      if (out.length === 0) return out;
      const pairs = {
        examples: Int32Array.from(fresh.sentence),
        left: Int32Array.from(fresh.left),
        right: Int32Array.from(fresh.right),
        out,
      };
      reduceStep(this.reduce, memory, pairs, null, product);
      scores.write(out, memory.gather(out, 1, 0, H).matmul(this.query).unsqueeze(1));
      return out;
    };

    const frontier = new Frontier(batch.lengths, W);
    frontier.setCandidates(compose(frontier.fresh));
    const terms: { logProb: Tensor; entropy: Tensor }[] = [];
    for (let step = 0; step < W - 1; step++) {
      const m = W - 1 - step;
      // The step's candidates, N × m: a sentence's pairs, then the zero row, masked out; a
      // sentence already parsed has the zero row alone (log-probability 0, entropy 0).
      const { rows, invalid } = frontier.candidateRows(m, zeroRow);
      const mask = tensor(invalid, { dtype: "bool", device: options.device, shape: [N, m] });
      const logp = scores.read(rows).reshape(N, m).maskedFill(mask, Number.NEGATIVE_INFINITY).logSoftmax(1);
      const host = logp.toFloat32Array();
      const chosen = new Int32Array(N);
      for (let i = 0; i < N; i++) {
        const count = frontier.pairs[i]!.length;
        if (count === 0) continue;
        chosen[i] = choose(i, step, host, i * m, count);
        frontier.merge(i, chosen[i]!);
      }
      frontier.setCandidates(compose(frontier.fresh));
      terms.push(stepTerms(logp, mask, chosen, options.device));
    }

    const trees = {
      ...followedTrees(batch.lengths, frontier.nodes, frontier.children),
      merges: frontier.merges,
    };
    const roots = Int32Array.from(frontier.nodes, (node) => node[0]!);
    return { encoding: memory.gather(roots, 1, 0, H), trees, policy: summedTerms(terms, N, options) };
  }

  /**
   * The leaves' [h | c] (N·W × 2H: sentence i's word j at row i·W + j, padding rows included):
   * tanh of the projection of each word's left context.
   */
  leafStates(batch: SentenceBatch): Tensor {
    const N = batch.size;
    const W = batch.width;
    // A batch with no word (a data-parallel rank's empty part of a global batch): no states.
    if (W === 0)
      return zeros([0, 2 * this.sizes.dHidden], { dtype: this.embed.dtype, device: this.embed.device });
    const ids = tensor(batch.ids, { device: this.embed.device });
    const words = embedding(this.embed, ids).reshape(N, W, this.sizes.dEmbed);
    const product = this.context.stepProduct(N * W);
    let h = zeros([N, this.sizes.dTracker], { dtype: this.embed.dtype, device: this.embed.device });
    let c = h;
    const states: Tensor[] = [];
    // Padding sits on the right, so the words' states never read it.
    for (let t = 0; t < W; t++) {
      ({ h, c } = this.context.forward(words.select(1, t), h, c, product));
      states.push(h);
    }
    return this.leaf.forward(stack(states, 1).reshape(N * W, this.sizes.dTracker)).tanh();
  }
}

/**
 * The parse's state on the host: each sentence's current nodes and the candidate parent of each
 * adjacent pair (rows of the pass's memory), each parent's children, and the pairs that need a
 * candidate composed (`fresh`: their children, and where in `pairs` the candidates go).
 */
class Frontier {
  readonly nodes: number[][] = [];
  /** Each sentence's merges so far: the pair chosen at each step (n − 1 in all). */
  readonly merges: Int32Array[] = [];
  readonly pairs: number[][] = [];
  readonly children = new Map<number, [number, number]>();
  fresh = { left: [] as number[], right: [] as number[], sentence: [] as number[], position: [] as number[] };

  /** Sentence i's word j is row i·W + j; every adjacent pair of words is fresh. */
  constructor(lengths: Int32Array, W: number) {
    lengths.forEach((n, i) => {
      this.nodes.push(Array.from({ length: n }, (_, j) => i * W + j));
      this.merges.push(new Int32Array(Math.max(0, n - 1)));
      this.pairs.push(new Array<number>(Math.max(0, n - 1)).fill(-1));
      for (let j = 0; j + 1 < n; j++) this.#addFresh(i, j, i * W + j, i * W + j + 1);
    });
  }

  /** The composed candidates of the fresh pairs (rows, in their order); none is fresh then. */
  setCandidates(rows: Int32Array): void {
    rows.forEach((row, f) => {
      this.pairs[this.fresh.sentence[f]!]![this.fresh.position[f]!] = row;
    });
    this.fresh = { left: [], right: [], sentence: [], position: [] };
  }

  /**
   * The rows of every sentence's candidates, m per sentence, padded with `padRow`, and which
   * entries are not candidates (a parsed sentence keeps its first entry: one forced choice).
   */
  candidateRows(m: number, padRow: number): { rows: Int32Array; invalid: Uint8Array } {
    const N = this.pairs.length;
    const rows = new Int32Array(N * m).fill(padRow);
    const invalid = new Uint8Array(N * m).fill(1);
    this.pairs.forEach((p, i) => {
      rows.set(p, i * m);
      invalid.fill(0, i * m, i * m + Math.max(1, p.length));
    });
    return { rows, invalid };
  }

  /**
   * Sentence i merges its pair j: the candidate becomes the node, and pairs j − 1, j and j + 1
   * (those that exist) become the fresh pairs (node j − 1, parent) and (parent, node j + 1); the
   * others keep their candidates.
   */
  merge(i: number, j: number): void {
    const node = this.nodes[i]!;
    const p = this.pairs[i]!;
    const parent = p[j]!;
    // n words, n − k nodes after k merges: this is merge k.
    const merges = this.merges[i]!;
    merges[merges.length + 1 - node.length] = j;
    this.children.set(parent, [node[j]!, node[j + 1]!]);
    node.splice(j, 2, parent);
    const hasLeft = j > 0;
    const hasRight = j + 1 < p.length;
    p.splice(
      hasLeft ? j - 1 : j,
      1 + Number(hasLeft) + Number(hasRight),
      ...(hasLeft ? [-1] : []),
      ...(hasRight ? [-1] : []),
    );
    if (hasLeft) this.#addFresh(i, j - 1, node[j - 1]!, parent);
    if (hasRight) this.#addFresh(i, j, parent, node[j + 1]!);
  }

  #addFresh(sentence: number, position: number, left: number, right: number): void {
    this.fresh.left.push(left);
    this.fresh.right.push(right);
    this.fresh.sentence.push(sentence);
    this.fresh.position.push(position);
  }
}

/**
 * One step's policy terms per sentence (N): the log-probability of the chosen pair, and the
 * entropy of the step's distribution (`mask`: the entries that are not candidates). `device` is
 * the pass's, given rather than read off `logp` (a native call per step).
 */
function stepTerms(
  logp: Tensor,
  mask: Tensor,
  chosen: Int32Array,
  device: Device,
): { logProb: Tensor; entropy: Tensor } {
  const index = tensor(chosen, { dtype: "int64", device }).unsqueeze(1);
  return {
    logProb: logp.gather(1, index).squeeze(1),
    entropy: logp.exp().mul(logp.maskedFill(mask, 0)).sum([1]).neg(),
  };
}

/** The steps' terms summed per sentence (zeros when no sentence had a choice to make). */
function summedTerms(
  terms: readonly { logProb: Tensor; entropy: Tensor }[],
  N: number,
  options: { dtype: DType; device: Device },
): PolicyTerms {
  const sum = (key: "logProb" | "entropy") =>
    terms.length > 0
      ? stack(
          terms.map((t) => t[key]),
          0,
        ).sum([0])
      : zeros([N], options);
  return { logProb: sum("logProb"), entropy: sum("entropy"), transitionLoss: null };
}

/** The trees of a pass: each sentence's transitions from its root, SKIP-padded (N × (2n − 1)). */
function followedTrees(
  lengths: Int32Array,
  nodes: number[][],
  children: ReadonlyMap<number, readonly [number, number]>,
): FollowedTrees {
  let steps = 0;
  for (const n of lengths) steps = Math.max(steps, 2 * n - 1);
  const transitions = new Uint8Array(lengths.length * steps).fill(SKIP);
  nodes.forEach((node, i) => transitions.set(postOrderTransitions(node[0]!, children), i * steps));
  return { transitions, steps };
}
