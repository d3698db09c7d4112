// One training step, the one the trainer, the benchmark and any other caller run: zero the
// gradients, compute the objective, backpropagate through the batch's dynamic graph, clip the
// global gradient norm, update the parameters. A non-finite loss or gradient norm stops the step
// before the update (DivergenceError), so the parameters stay as they were.
import { cat, clipGradNorm, noGrad, type Optimizer, scope } from "../engine/index.js";
import type { BatchShard } from "../models/batch-shard.js";
import type { Model } from "../models/model.js";
import type { TaskBatch } from "../tasks/task.js";
import { requireFinite } from "./divergence.js";
import type { GradientBuckets } from "./gradient-buckets.js";
import { type Objective, wholeBatch } from "./objective.js";

export interface StepResult {
  /** The (global) batch's mean task loss (cross-entropy of the gold labels). */
  loss: number;
  /** Examples whose predicted class was the gold one. */
  correct: number;
  examples: number;
}

/**
 * One rank's part of a data-parallel step: its shard of the global batch (batch-shard.ts) and
 * the buckets its gradients are summed over the ranks in.
 */
export interface DataParallelPart {
  shard: BatchShard;
  buckets: GradientBuckets;
}

/**
 * The step. Data-parallel (`part`), each rank runs `batch`, its part of the global batch, and
 * the gradients, loss and correct count are summed over the ranks before the update, so every
 * rank makes the same update, the one a single process makes for the global batch.
 */
export function trainStep(
  model: Model,
  optimizer: Optimizer,
  objective: Objective,
  batch: TaskBatch,
  clip: number,
  part: DataParallelPart | null = null,
): StepResult {
  return scope(() => {
    optimizer.zeroGrad();
    const shard = part?.shard ?? wholeBatch(batch);
    const { total, task, logits, target } = objective.loss(model, batch, shard);
    total.backward();
    part?.buckets.allReduce();
    // The loss and the correct count, read back together (one host sync) before the update: the
    // progress line needs both anyway, and a non-finite loss must stop the step here.
    const correctCount = noGrad(() => logits.argmax(1).eq(target).sum().to("float64"));
    const totals = cat([task.detach().to("float64").reshape(1), correctCount.reshape(1)]);
    part?.buckets.group.allReduce([totals]);
    const [loss, correct] = totals.toArray() as [number, number];
    requireFinite("loss", loss);
    // Without clipping, an infinite maximum measures the norm and leaves the gradients alone
    // (the scale factor maxNorm / norm is never below 1). A NaN or infinite total loss (e.g. the
    // policy loss) shows up here too: its gradients are not finite.
    const norm = clipGradNorm(optimizer.params, clip > 0 ? clip : Number.POSITIVE_INFINITY);
    requireFinite("gradient norm", norm);
    optimizer.step();
    return { loss, correct, examples: shard.globalExamples };
  });
}
