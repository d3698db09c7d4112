// One training step, the one the trainer, the benchmark and any other caller run: zero the
// gradients, compute the objective, backpropagate through the batch's dynamic graph, clip the
// global gradient norm, update the parameters. A non-finite loss or gradient norm stops the step
// before the update (DivergenceError), so the parameters stay as they were.
import { cat, clipGradNorm, noGrad, type Optimizer, scope } from "../engine/index.js";
import type { Model } from "../models/model.js";
import type { TaskBatch } from "../tasks/task.js";
import { requireFinite } from "./divergence.js";
import type { Objective } from "./objective.js";

export interface StepResult {
  /** The batch's mean task loss (cross-entropy of the gold labels). */
  loss: number;
  /** Examples whose predicted class was the gold one. */
  correct: number;
  examples: number;
}

export function trainStep(
  model: Model,
  optimizer: Optimizer,
  objective: Objective,
  batch: TaskBatch,
  clip: number,
): StepResult {
  return scope(() => {
    optimizer.zeroGrad();
    const { total, task, logits, target } = objective.loss(model, batch);
    total.backward();
    // The loss and the correct count, read back together (one host sync) before the update: the
    // progress line needs both anyway, and a non-finite loss must stop the step here.
    const correctCount = noGrad(() => logits.argmax(1).eq(target).sum().to("float64"));
    const [loss, correct] = cat([
      task.detach().to("float64").reshape(1),
      correctCount.reshape(1),
    ]).toArray() as [number, number];
    requireFinite("loss", loss);
    // Without clipping, an infinite maximum measures the norm and leaves the gradients alone
    // (the scale factor maxNorm / norm is never below 1). A NaN or infinite total loss (e.g. the
    // policy loss) shows up here too: its gradients are not finite.
    const norm = clipGradNorm(optimizer.params, clip > 0 ? clip : Number.POSITIVE_INFINITY);
    requireFinite("gradient norm", norm);
    optimizer.step();
    return { loss, correct, examples: batch.labels.length };
  });
}
