// REINFORCE for RL-SPINN (Williams 1992; Yogatama et al. 2017): the transitions of a training
// pass are sampled from the tracker's policy, each example earns a reward from its prediction,
// and the policy is pushed towards the trees that earned more than a baseline:
//   policy loss = −mean_i[(r_i − b_i) · log p(tree_i)] − entropyWeight · mean_i[H_i].
// Its gradient is an unbiased estimate of −∇E[r] for any baseline that does not depend on the
// sampled tree; the baselines only change the variance.
import { crossEntropy, noGrad, type Tensor, tensor } from "../engine/index.js";
import type { BatchShard } from "../models/batch-shard.js";
import type { BaselineKind, RewardKind } from "../models/kinds.js";

/** Per-example rewards on the host (one transfer), from the class scores and gold labels. */
export function rewards(logits: Tensor, target: Tensor, kind: RewardKind): Float32Array {
  return noGrad(() =>
    kind === "neg-loss"
      ? crossEntropy(logits, target, "none").neg().toFloat32Array()
      : logits.argmax(1).eq(target).to("float32").toFloat32Array(),
  );
}

/** The sum of f(x) over the global batch's examples (this shard's, summed over the ranks). */
function globalSum(xs: Float32Array, shard: BatchShard | null, f: (x: number) => number = (x) => x): number {
  let s = 0;
  for (const x of xs) s += f(x);
  return shard ? shard.sumOverRanks([s])[0]! : s;
}

/**
 * Turns rewards into advantages (reward − baseline). Keeps the moving average between batches;
 * its value is part of the trainer's checkpoint so that a resumed run continues exactly.
 */
export class Advantages {
  constructor(
    readonly kind: BaselineKind,
    readonly decay: number,
    /** The moving average so far (null before the first batch). */
    public average: number | null = null,
  ) {
    if (!(decay >= 0 && decay < 1)) throw new RangeError(`baseline decay must be in [0, 1), got ${decay}`);
  }

  /**
   * `greedy`: the rewards of the greedy parses, needed by (only) the self-critical baseline. The
   * batch statistics (mean, standard deviation) are the shard's global batch's (without one,
   * the batch's own).
   */
  of(r: Float32Array, greedy: Float32Array | null = null, shard: BatchShard | null = null): Float32Array {
    const n = shard?.globalExamples ?? r.length;
    const out = new Float32Array(r.length);
    switch (this.kind) {
      case "none":
        out.set(r);
        break;
      case "moving-average": {
        const m = globalSum(r, shard) / n;
        // The first batch has no history: its own mean stands in for it.
        const b = this.average ?? m;
        for (let i = 0; i < r.length; i++) out[i] = r[i]! - b;
        this.average = this.decay * b + (1 - this.decay) * m;
        break;
      }
      case "whiten": {
        const m = globalSum(r, shard) / n;
        const std = Math.sqrt(globalSum(r, shard, (x) => (x - m) ** 2) / n);
        // All rewards equal: no tree did better than another, so there is nothing to learn.
        for (let i = 0; i < r.length; i++) out[i] = std > 1e-8 ? (r[i]! - m) / std : 0;
        break;
      }
      case "self-critical":
        if (!greedy || greedy.length !== r.length)
          throw new Error("the self-critical baseline needs the greedy parses' rewards");
        for (let i = 0; i < r.length; i++) out[i] = r[i]! - greedy[i]!;
        break;
      case "learned":
        throw new Error("the learned baseline's advantages come from the value head (value-baseline.ts)");
    }
    return out;
  }
}

/**
 * The REINFORCE surrogate whose gradient is the policy-gradient estimate (see the top); the means
 * are over the global batch's `examples` (a shard's sums, divided by them).
 */
export function policyLoss(
  logProb: Tensor,
  entropy: Tensor,
  advantages: Float32Array,
  entropyWeight: number,
  examples = logProb.shape[0]!,
): Tensor {
  const a = tensor(advantages, { dtype: logProb.dtype, device: logProb.device });
  const loss = a.mul(logProb).sum().div(examples).neg();
  return entropyWeight > 0 ? loss.sub(entropy.sum().div(examples).mul(entropyWeight)) : loss;
}
