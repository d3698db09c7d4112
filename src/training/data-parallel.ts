// Data-parallel training over a process group (engine/distributed.ts): every rank runs the same
// seeded batch order, takes its contiguous part of each global batch, and sums gradients over
// the ranks (gradient-buckets.ts); the model's random draws and batch statistics are those of the
// global batch (models/batch-shard.ts). So the global batch, and the run's result, are the same
// for any number of workers, and a run may resume with a different number.
import type { Batch } from "../data/batching.js";
import type { Vocabulary } from "../data/vocabulary.js";
import { DistributedError, type ProcessGroup, scope, tensor } from "../engine/index.js";
import { predict } from "../inference/evaluate.js";
import { type ClassificationReport, reportFromConfusion } from "../inference/metrics.js";
import { batchLayout } from "../models/batch-layout.js";
import { BatchShard } from "../models/batch-shard.js";
import type { Model } from "../models/model.js";
import { batchFor, labelNames, type TaskBatch, type TaskData } from "../tasks/task.js";
import { GradientBuckets } from "./gradient-buckets.js";
import type { DataParallelPart } from "./step.js";

/** The rank's contiguous part [start, end) of `count` items split over `world` ranks. */
export function shardRange(count: number, rank: number, world: number): [number, number] {
  return [Math.floor((rank * count) / world), Math.floor(((rank + 1) * count) / world)];
}

export class DataParallel {
  readonly buckets: GradientBuckets;

  constructor(
    readonly group: ProcessGroup,
    model: Model,
  ) {
    this.buckets = new GradientBuckets(
      group,
      model.store.trainable().map(([, t]) => t),
    );
  }

  get rank(): number {
    return this.group.rank;
  }

  /**
   * Checks that every rank read the same run: the same counts (of examples, words, parameters)
   * everywhere, or one error, the same on every rank, naming the first that differs. All ranks
   * equal ⇔ (Σ v)² = W · Σ v² (Cauchy–Schwarz), so one all-reduce of [v, v²] per count tells.
   */
  requireSameRun(counts: Record<string, number>): void {
    const names = Object.keys(counts);
    const values = names.flatMap((k) => [counts[k]!, counts[k]! ** 2]);
    const t = tensor(Float64Array.from(values), { dtype: "float64" });
    this.group.allReduce([t]);
    const sums = t.toFloat64Array();
    const w = this.group.worldSize;
    const differs = names.find((_, i) => sums[2 * i]! ** 2 !== w * sums[2 * i + 1]!);
    if (differs)
      throw new DistributedError(
        `the workers read different runs: ${differs} differs between ranks (rank ${this.rank} has ${counts[differs]}); ` +
          "every worker needs the same data files and options",
      );
  }

  /** Every rank's parameters and buffers (batch-norm statistics) become rank 0's. */
  broadcastModel(model: Model): void {
    this.group.broadcast([...model.store.all().values()]);
  }

  /** This rank's part of the global batch `plan`, with what its step needs to act as the whole. */
  part(data: TaskData, plan: Batch, vocab: Vocabulary): { batch: TaskBatch; part: DataParallelPart } {
    const global = batchLayout(batchFor(data, plan, vocab));
    const examples = plan.indices.length;
    const [start, end] = shardRange(examples, this.group.rank, this.group.worldSize);
    const batch = batchFor(data, { indices: plan.indices.slice(start, end) }, vocab);
    // Sentences in the encoder's order: the examples', or premises [0, B) then hypotheses [B, 2B).
    const local = Array.from({ length: end - start }, (_, i) => start + i);
    const pairs = global.sentences.size === 2 * examples;
    const sentenceIndex = Int32Array.from(pairs ? [...local, ...local.map((i) => examples + i)] : local);
    const shard = new BatchShard(this.group, global.sentences.lengths, sentenceIndex, examples, start);
    return { batch, part: { shard, buckets: this.buckets } };
  }

  /** Whether any rank says yes (e.g. was interrupted): all ranks then stop at the same step. */
  anyRank(yes: boolean): boolean {
    const t = tensor([yes ? 1 : 0], { dtype: "float64" });
    this.group.allReduce([t]);
    return t.item() > 0;
  }

  /** Dev evaluation: each rank predicts its part of the data; the confusion counts are summed. */
  evaluate(model: Model, data: TaskData, vocab: Vocabulary): ClassificationReport {
    const labels = labelNames(data.task);
    const k = labels.length;
    const [start, end] = shardRange(data.examples.length, this.group.rank, this.group.worldSize);
    const mine = { ...data, examples: data.examples.slice(start, end) };
    const counts = new Float64Array(k * k);
    if (mine.examples.length > 0) {
      const { predicted } = predict(model, mine, vocab);
      mine.examples.forEach((ex, i) => {
        counts[ex.label * k + predicted[i]!]! += 1;
      });
    }
    const summed = scope(() => {
      const t = tensor(counts, { dtype: "float64" });
      this.group.allReduce([t]);
      return t.toFloat64Array();
    });
    const confusion = labels.map((_, g) => Array.from(summed.subarray(g * k, (g + 1) * k)));
    return reportFromConfusion(confusion, labels);
  }
}
