// RL-SPINN's input-dependent baseline (`--baseline learned`; the control variate of Havrylov et
// al. 2019): a small value head on the encoding of the greedy parse (Model.baselineValue)
// predicts each example's reward, trained by squared error beside the task loss; its prediction,
// taken as a constant, is the baseline: advantage = r − v(x). It depends on the input, not on
// the sampled tree, so the policy gradient stays unbiased; the head reads the encoding without
// gradient and its prediction enters the policy loss only as a number, so neither loss leaks
// into the other.
import { noGrad, type Tensor, tensor } from "../engine/index.js";

export interface LearnedBaseline {
  /** r − v(x) per example, on the host. */
  advantages: Float32Array;
  /** The value head's squared error, summed over the examples and divided by `examples`. */
  loss: Tensor;
}

/**
 * The advantages against the value head's predictions `value` (per example) and its loss; the
 * sum is divided by the global batch's `examples` as every term is (a shard's part adds up).
 */
export function learnedBaseline(value: Tensor, r: Float32Array, examples: number): LearnedBaseline {
  const predicted = noGrad(() => value.to("float64").toFloat64Array());
  const advantages = new Float32Array(r.length);
  for (let i = 0; i < r.length; i++) advantages[i] = r[i]! - predicted[i]!;
  const error = value.sub(tensor(r, { dtype: value.dtype, device: value.device }));
  return { advantages, loss: error.mul(error).sum().div(examples) };
}
