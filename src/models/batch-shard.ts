// One rank's part of a global training batch, and what a training pass needs to compute as if it
// ran the whole global batch: random draws made for the global batch (every rank draws the same
// numbers from the shared seeded generator and takes its own rows), batch statistics over the
// global batch (batch norm as PyTorch's SyncBatchNorm; sums of host numbers), and the global
// counts that losses are normalised by. A run's result then does not depend on how many workers
// ran it. With one process the shard is the whole batch and no collective is made.
import {
  type BatchNorm,
  dropout,
  noGrad,
  type ProcessGroup,
  rand,
  type Tensor,
  tensor,
} from "../engine/index.js";

/** Where a tensor's rows sit among the global batch's rows (one dropout mask row per global row). */
export interface RowMap {
  /** Rows of the global batch. */
  readonly globalRows: number;
  /** The global row of each local row; null when the local rows are the global rows [offset, offset + n). */
  readonly index: Int32Array | null;
  readonly offset: number;
}

export class BatchShard {
  /** Leaf rows (tokens of every sentence, sentence after sentence, as the encoder reads them). */
  readonly leafRows: RowMap;
  /** Example rows (the classifier's). */
  readonly exampleRows: RowMap;

  /**
   * `globalLengths`: the global batch's sentence lengths in the encoder's order; `sentenceIndex`:
   * each local sentence's index among them; local examples are global [exampleOffset, + examples).
   */
  constructor(
    readonly group: ProcessGroup | null,
    readonly globalLengths: Int32Array,
    readonly sentenceIndex: Int32Array,
    readonly globalExamples: number,
    readonly exampleOffset: number,
  ) {
    this.leafRows = leafRowMap(globalLengths, sentenceIndex);
    this.exampleRows = { globalRows: globalExamples, index: null, offset: exampleOffset };
  }

  /** The whole batch in one process: every local row is the global row of the same number. */
  static whole(lengths: Int32Array, examples: number): BatchShard {
    return new BatchShard(
      null,
      lengths,
      Int32Array.from(lengths, (_, i) => i),
      examples,
      0,
    );
  }

  /** Inverted dropout whose mask rows are the global batch's rows that this shard holds. */
  dropout(x: Tensor, p: number, training: boolean, rows: RowMap): Tensor {
    const index = rows.index ? tensor(rows.index, { dtype: "int64", device: "cpu" }) : null;
    return dropout(x, p, training, { index, offset: rows.offset });
  }

  /**
   * Batch norm over the global batch: alone, libtorch's own; in a group, the statistics are sums
   * over the ranks that autograd differentiates (SyncBatchNorm), two passes for the variance.
   * A global batch of one row (an epoch's last batch, or under a token budget one long example)
   * takes the second way alone too: libtorch's running variance takes the unbiased variance,
   * 0 · 1/0 for one row, and would be NaN from then on.
   */
  batchNorm(norm: BatchNorm, x: Tensor, training: boolean, rows: RowMap): Tensor {
    const n = rows.globalRows;
    if (!training || (!this.group && n > 1)) return norm.forward(x, training);
    const group = this.group;
    const sum = (t: Tensor) => (group ? group.allReduceSum(t) : t);
    const mean = sum(x.sum([0])).div(n);
    const centred = x.sub(mean);
    const variance = sum(centred.square().sum([0])).div(n);
    noGrad(() => {
      const m = norm.momentum;
      norm.runningMean.copy_(norm.runningMean.mul(1 - m).add(mean.mul(m)));
      const unbiased = variance.mul(n / Math.max(1, n - 1));
      norm.runningVar.copy_(norm.runningVar.mul(1 - m).add(unbiased.mul(m)));
    });
    return centred.div(variance.add(norm.eps).sqrt()).mul(norm.weight).add(norm.bias);
  }

  /**
   * Uniform draws for sampling transitions: one per (step, global sentence), drawn for the global
   * batch; the local sentence i at step s uses draws[s · stride + index[i]].
   */
  transitionDraws(): { draws: Float32Array; stride: number; index: Int32Array } {
    let steps = 0;
    for (const n of this.globalLengths) steps = Math.max(steps, 2 * n - 1);
    const stride = this.globalLengths.length;
    return { draws: rand([steps * stride]).toFloat32Array(), stride, index: this.sentenceIndex };
  }

  /** Transitions of the global batch in all (2n − 1 per sentence): the transition loss's normaliser. */
  get globalTransitions(): number {
    let count = 0;
    for (const n of this.globalLengths) count += 2 * n - 1;
    return count;
  }

  /**
   * Where this rank's `count` rows of a list made per rank (e.g. the sub-lists of its examples)
   * sit in the global batch's list, which is the ranks' lists in rank order (the ranks hold the
   * global batch's examples in that order): the global count (a loss's normaliser) and this
   * rank's offset (its dropout mask rows). Alone: its own rows. A collective in a group.
   */
  rowsAmongRanks(count: number): RowMap {
    if (!this.group) return { globalRows: count, index: null, offset: 0 };
    const counts = new Array<number>(this.group.worldSize).fill(0);
    counts[this.group.rank] = count;
    const all = this.sumOverRanks(counts);
    const offset = all.slice(0, this.group.rank).reduce((a, n) => a + n, 0);
    return { globalRows: all.reduce((a, n) => a + n, 0), index: null, offset };
  }

  /** The same shard with other example rows: a head run on `rows` instead of the examples. */
  withExampleRows(rows: RowMap): BatchShard {
    return new BatchShard(this.group, this.globalLengths, this.sentenceIndex, rows.globalRows, rows.offset);
  }

  /** Each number summed over the ranks (itself alone). */
  sumOverRanks(values: readonly number[]): number[] {
    if (!this.group || values.length === 0) return [...values];
    const t = tensor(Float64Array.from(values), { dtype: "float64" });
    this.group.allReduce([t]);
    return Array.from(t.toFloat64Array());
  }
}

function leafRowMap(globalLengths: Int32Array, sentenceIndex: Int32Array): RowMap {
  // The whole batch (one process): the local rows are the global rows, nothing to select.
  const whole = sentenceIndex.length === globalLengths.length && sentenceIndex.every((g, i) => g === i);
  if (whole) return { globalRows: globalLengths.reduce((a, n) => a + n, 0), index: null, offset: 0 };
  const start = new Int32Array(globalLengths.length + 1);
  for (let g = 0; g < globalLengths.length; g++) start[g + 1] = start[g]! + globalLengths[g]!;
  let rows = 0;
  for (const g of sentenceIndex) rows += globalLengths[g]!;
  const index = new Int32Array(rows);
  let k = 0;
  for (const g of sentenceIndex) for (let j = start[g]!; j < start[g + 1]!; j++) index[k++] = j;
  return { globalRows: start[globalLengths.length]!, index, offset: 0 };
}
