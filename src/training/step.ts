// One training step, the one the trainer, the benchmark and any other caller run: zero the
// gradients, compute the objective, backpropagate through the batch's dynamic graph, clip the
// global gradient norm, update the parameters.
import { clipGradNorm, noGrad, type Optimizer, scope } from "../engine/index.js";
import type { Model } from "../models/model.js";
import type { TaskBatch } from "../tasks/task.js";
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
    if (clip > 0) clipGradNorm(optimizer.params, clip);
    optimizer.step();
    const correct = noGrad(() => logits.argmax(1).eq(target).sum().item());
    return { loss: task.item(), correct, examples: batch.labels.length };
  });
}
