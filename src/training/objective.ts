// What a training step minimises. Every model: the cross-entropy of the gold labels (the task
// loss). Full SPINN adds the weighted cross-entropy of its transition predictions against the
// parses (teacher forcing). RL-SPINN adds the weighted REINFORCE policy loss of its sampled trees,
// with the baseline chosen in the options (see reinforce.ts). With --subtree-weight, a ListOps
// model given the trees also learns every sub-list's value, read out by the same classifier.
import { crossEntropy, noGrad, type Tensor, tensor } from "../engine/index.js";
import { batchLayout } from "../models/batch-layout.js";
import { BatchShard } from "../models/batch-shard.js";
import { type Model, subtreesOf } from "../models/model.js";
import type { TaskBatch } from "../tasks/task.js";
import type { TrainOptions } from "./options.js";
import { entropyWeightAt } from "./policy-update.js";
import { type PolicySample, recordSample } from "./ppo.js";
import { Advantages, policyLoss, rewards } from "./reinforce.js";
import { learnedBaseline } from "./value-baseline.js";

export type ObjectiveOptions = Pick<
  TrainOptions,
  "transitionWeight" | "reward" | "baseline" | "baselineDecay" | "entropyWeight" | "subtreeWeight"
> &
  Partial<Pick<TrainOptions, "entropyDecay" | "entropyDecaySteps" | "ppoEpochs">>;

export interface BatchLoss {
  /** What the step differentiates: the task loss plus the model's transition or policy loss. */
  total: Tensor;
  /** The cross-entropy of the gold labels alone (what the progress line reports). */
  task: Tensor;
  logits: Tensor;
  target: Tensor;
}

export class Objective {
  /** RL-SPINN's baseline state (the moving average is saved with the checkpoint). */
  readonly advantages: Advantages;
  /** The steps taken before the one being computed (the trainer sets it: the entropy schedule). */
  step = 0;
  /** With PPO passes, the last step's sample (ppo.ts), until they take it. */
  sample: PolicySample | null = null;

  constructor(
    readonly options: ObjectiveOptions,
    rewardAverage: number | null = null,
  ) {
    this.advantages = new Advantages(options.baseline, options.baselineDecay, rewardAverage);
  }

  /**
   * One training pass over `batch` and its loss. For one rank's part of a global batch (`shard`),
   * every term is this part's sum divided by the global batch's count, so that the ranks' losses
   * (and gradients) add up to the global batch's.
   */
  loss(model: Model, batch: TaskBatch, shard = wholeBatch(batch)): BatchLoss {
    const subtrees = this.options.subtreeWeight > 0;
    const pass = model.run(batch, true, undefined, shard, subtrees);
    const target = tensor(batch.labels, { device: pass.logits.device });
    const task = crossEntropy(pass.logits, target, "sum").div(shard.globalExamples);
    let total = task;
    if (pass.transitionLoss) total = total.add(pass.transitionLoss.mul(this.options.transitionWeight));
    if (pass.subtreeLogits && subtrees) {
      // Like the task loss: this part's sum over the global batch's sub-lists (all ranks'); a
      // part without sub-lists adds its zero sum too, so its backward joins the collectives.
      const values = tensor(subtreesOf(batch).labels, { device: pass.logits.device });
      const subtree = crossEntropy(pass.subtreeLogits, values, "sum").div(pass.globalSubtrees);
      total = total.add(subtree.mul(this.options.subtreeWeight));
    }
    if (model.config.encoder === "rl-spinn") {
      // Run on every rank, even one whose part of the batch is empty (no policy terms): the
      // greedy pass and the baselines' statistics are collectives every rank must join.
      const greedy = this.greedyRewards(model, batch, target, shard);
      const r = rewards(pass.logits, target, this.options.reward);
      const learned =
        this.options.baseline === "learned"
          ? learnedBaseline(model.baselineValue(batch, true, shard), r, shard.globalExamples)
          : null;
      const advantages = learned?.advantages ?? this.advantages.of(r, greedy, shard);
      if (learned) total = total.add(learned.loss);
      if (pass.logProb && pass.entropy) {
        const entropyWeight = entropyWeightAt(this.options, this.step);
        const policy = policyLoss(
          pass.logProb,
          pass.entropy,
          advantages,
          entropyWeight,
          shard.globalExamples,
        );
        total = total.add(policy.mul(this.options.transitionWeight));
        if ((this.options.ppoEpochs ?? 1) > 1 && pass.trees)
          this.sample = recordSample(model, batch, pass.trees, advantages, pass.merges);
      }
    }
    return { total, task, logits: pass.logits, target };
  }

  /**
   * The self-critical baseline: the rewards of the greedy parse of the same batch, in training
   * mode so that it sees the same kind of dropout as the sample. Null for the other baselines.
   */
  private greedyRewards(
    model: Model,
    batch: TaskBatch,
    target: Tensor,
    shard: BatchShard,
  ): Float32Array | null {
    if (this.options.baseline !== "self-critical") return null;
    return noGrad(() => rewards(model.run(batch, true, "greedy", shard).logits, target, this.options.reward));
  }
}

/** A batch trained in one process: the shard is all of it. */
export function wholeBatch(batch: TaskBatch): BatchShard {
  const layout = batchLayout(batch);
  return BatchShard.whole(layout.sentences.lengths, layout.examples);
}
