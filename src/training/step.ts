// One training step, the one the trainer, the benchmark and any other caller run: zero the
// gradients, compute the objective, backpropagate through the batch's dynamic graph, clip the
// global gradient norm, update the parameters. A non-finite loss or gradient norm stops the step
// before the update (DivergenceError), so the parameters stay as they were.
import { clipGradNorm, noGrad, type Optimizer, scope } from "../engine/index.js";
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
    // The loss is read back every step anyway (for the progress line); reading it before the
    // update costs nothing more.
    const loss = task.item();
    requireFinite("loss", loss);
    // Without clipping, an infinite maximum measures the norm and leaves the gradients alone
    // (the scale factor maxNorm / norm is never below 1). A NaN or infinite total loss (e.g. the
    // policy loss) shows up here too: its gradients are not finite.
    const norm = clipGradNorm(optimizer.params, clip > 0 ? clip : Number.POSITIVE_INFINITY);
    requireFinite("gradient norm", norm);
    optimizer.step();
    const correct = noGrad(() => logits.argmax(1).eq(target).sum().item());
    return { loss, correct, examples: batch.labels.length };
  });
}
