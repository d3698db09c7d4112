// PPO-style policy updates for RL-SPINN (Schulman et al. 2017, as Havrylov et al. 2019 train
// their parser): after a step's REINFORCE update, `ppoEpochs − 1` more passes over the same
// sampled trees update the transition policy alone. The trees, their rewards and advantages are
// fixed by the step's pass; each extra pass recomputes the log-probability of those same
// transitions under the current policy and follows the gradient of the clipped surrogate
//   −mean_i min(r_i · A_i, clip(r_i, 1 − ε, 1 + ε) · A_i),  r_i = exp(log p_i − log p_old_i),
// which at r = 1 is REINFORCE's. log p_old is the sampling policy's, before the step's update.
// These passes run without dropout (both log p_old and log p), so that r = 1 before the policy
// moves. One process only: the CLI refuses --ppo-epochs > 1 with --nproc > 1.
import { SKIP } from "../data/transitions.js";
import { clipGradNorm, noGrad, type Optimizer, scope, type Tensor, tensor } from "../engine/index.js";
import { batchLayout } from "../models/batch-layout.js";
import type { Model } from "../models/model.js";
import type { TaskBatch } from "../tasks/task.js";
import { requireFinite } from "./divergence.js";
import type { TrainOptions } from "./options.js";
import { GroupedOptimizer } from "./policy-update.js";

/** What a PPO pass needs of a step's sample: the batch with its trees, and the fixed terms. */
export interface PolicySample {
  batch: TaskBatch;
  /** Each sentence's sampled transitions (premises, then hypotheses). */
  trees: Uint8Array[];
  /** With a merge parser, each sentence's sampled merge order (what its log-probability is of). */
  merges: Int32Array[] | null;
  advantages: Float32Array;
  /** log p_old per example: the sampling policy's, without dropout. */
  oldLogProb: Float64Array;
}

/**
 * The clipped surrogate loss (see the top): its gradient with respect to `logProb`, where every
 * r = 1, is the REINFORCE policy loss's; where the min selects the clipped term (r beyond
 * 1 + ε with A > 0, or below 1 − ε with A < 0) the example's gradient is zero.
 */
export function clippedSurrogate(
  logProb: Tensor,
  oldLogProb: Tensor,
  advantages: Float32Array,
  clip: number,
  examples = logProb.shape[0]!,
): Tensor {
  const a = tensor(advantages, { dtype: logProb.dtype, device: logProb.device });
  const ratio = logProb.sub(oldLogProb.detach()).exp();
  const surrogate = ratio.mul(a).minimum(ratio.clamp(1 - clip, 1 + clip).mul(a));
  return surrogate.sum().div(examples).neg();
}

/**
 * The log-probability per example of the given trees under the model's policy (no dropout); with a
 * merge parser, of the given merge orders (`merges`, one per sentence). With a separate parser
 * only the parser runs: a PPO pass costs a parser pass, not a whole model's.
 */
export function treeLogProb(
  model: Model,
  batch: TaskBatch,
  trees: Uint8Array[],
  merges: Int32Array[] | null = null,
): Tensor {
  const layout = batchLayout(batch);
  const s = layout.sentences;
  const steps = trees.reduce((m, t) => Math.max(m, t.length), 0);
  const transitions = new Uint8Array(s.size * steps).fill(SKIP);
  trees.forEach((t, i) => transitions.set(t, i * steps));
  const sentences = { ...s, steps, transitions };
  const pass = model.rescorePass(sentences, merges);
  if (!pass.policy) throw new Error("PPO passes need a model that predicts its transitions (rl-spinn)");
  return layout.perExample(pass.policy.logProb);
}

/** Records a step's sample for the PPO passes that follow its update. */
export function recordSample(
  model: Model,
  batch: TaskBatch,
  trees: Uint8Array[],
  advantages: Float32Array,
  merges: Int32Array[] | null = null,
): PolicySample {
  const oldLogProb = noGrad(() => treeLogProb(model, batch, trees, merges).to("float64").toFloat64Array());
  return { batch, trees, merges, advantages, oldLogProb };
}

/** The optimizer of the transition policy's parameters (its group: see policy-update.ts). */
export function policyOptimizer(optimizer: Optimizer): Optimizer {
  if (!(optimizer instanceof GroupedOptimizer) || optimizer.groups.length !== 2)
    throw new Error("PPO passes need the transition policy in its own parameter group");
  return optimizer.groups[1]!.optimizer;
}

/**
 * The extra passes: each one a clipped-surrogate update of the policy parameters alone (weighted
 * as the policy loss, `weight`), its gradient norm clipped to `clipNorm` (0: not clipped).
 */
export function ppoPasses(
  model: Model,
  optimizer: Optimizer,
  sample: PolicySample,
  o: { passes: number; clip: number; weight: number; clipNorm: number },
): void {
  const policy = policyOptimizer(optimizer);
  const old = sample.oldLogProb;
  for (let k = 0; k < o.passes; k++) {
    scope(() => {
      policy.zeroGrad();
      const logProb = treeLogProb(model, sample.batch, sample.trees, sample.merges);
      const oldT = tensor(old, { dtype: logProb.dtype, device: logProb.device });
      clippedSurrogate(logProb, oldT, sample.advantages, o.clip).mul(o.weight).backward();
      const norm = clipGradNorm(policy.params, o.clipNorm > 0 ? o.clipNorm : Number.POSITIVE_INFINITY);
      requireFinite("gradient norm", norm);
      policy.step();
    });
  }
}

/**
 * After a step's update: with `ppoEpochs` > 1, the step's sample's extra passes (then forgotten).
 * Nothing otherwise.
 */
export function policyPasses(
  model: Model,
  optimizer: Optimizer,
  objective: { sample: PolicySample | null },
  o: Pick<TrainOptions, "ppoEpochs" | "ppoClip" | "transitionWeight" | "clip">,
): void {
  const sample = objective.sample;
  objective.sample = null;
  if (o.ppoEpochs <= 1 || !sample) return;
  ppoPasses(model, optimizer, sample, {
    passes: o.ppoEpochs - 1,
    clip: o.ppoClip,
    weight: o.transitionWeight,
    clipNorm: o.clip,
  });
}
