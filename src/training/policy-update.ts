// RL-SPINN's policy learning beside the task's (after Havrylov et al. 2019, "Cooperative learning
// of disjoint syntax and semantics"): the parser learns at its own pace. The transition-policy
// parameters (the tracker's SHIFT/REDUCE classifier `tracker.transition.*`, or all of a separate
// parser, `parser.*`) can have their own learning rate (`--policy-lr`), in their own parameter group of the optimizer; and
// the entropy bonus can decay over the steps (`--entropy-decay`), strong exploration first.
import { Optimizer, type OptimizerState, type Tensor } from "../engine/index.js";
import { TRAIN_DEFAULTS, type TrainOptions } from "./options.js";

/**
 * Whether a parameter (by its store name) is one of the transition policy's: the tracker's
 * SHIFT/REDUCE classifier, or every parameter of a separate parser (all of it is the policy).
 */
export function isPolicyParameter(name: string): boolean {
  return /(^|\.)tracker\.transition\./.test(name) || name.startsWith("parser.");
}

/**
 * The entropy bonus's weight at `step` (the steps taken before this one): `entropyWeight` times
 * 1 (constant), max(0, 1 − step / entropyDecaySteps) (linear) or exp(−step / entropyDecaySteps)
 * (exponential). A function of the step alone, so a resumed or data-parallel run draws the same.
 */
export function entropyWeightAt(
  o: Pick<TrainOptions, "entropyWeight"> & Partial<Pick<TrainOptions, "entropyDecay" | "entropyDecaySteps">>,
  step: number,
): number {
  const w = o.entropyWeight;
  const n = o.entropyDecaySteps ?? TRAIN_DEFAULTS.entropyDecaySteps;
  switch (o.entropyDecay ?? "constant") {
    case "constant":
      return w;
    case "linear":
      return w * Math.max(0, 1 - step / n);
    case "exponential":
      return w * Math.exp(-step / n);
  }
}

/** One parameter group: its optimizer, and its learning rate as a multiple of the run's. */
export interface ParameterGroup {
  optimizer: Optimizer;
  lrScale: number;
}

/**
 * Several optimizers over disjoint parameters, stepped as one: the run's learning rate (and its
 * per-epoch decay) sets each group's, times the group's scale. Its state is the union of the
 * groups' (named "<slot>.<parameter name>" as every optimizer's, so a checkpoint holds the same
 * tensors as one optimizer's would) and the shared step count.
 */
export class GroupedOptimizer extends Optimizer {
  constructor(
    readonly groups: readonly ParameterGroup[],
    lr: number,
  ) {
    super(
      groups.flatMap((g) => g.optimizer.names.map((n, i) => [n, g.optimizer.params[i]!] as const)),
      lr,
    );
  }

  protected update(): void {
    for (const g of this.groups) {
      g.optimizer.lr = this.lr * g.lrScale;
      // Each group's own count follows the shared one (Adam's bias correction reads it).
      g.optimizer.stepCount = this.stepCount - 1;
      g.optimizer.step();
    }
  }

  override state(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const g of this.groups) for (const [k, t] of g.optimizer.state().tensors) tensors.set(k, t);
    return { step: this.stepCount, lr: this.lr, tensors };
  }

  override loadState(state: OptimizerState): void {
    for (const g of this.groups) g.optimizer.loadState(state);
    this.stepCount = state.step;
    this.lr = state.lr;
  }

  override dispose(): void {
    for (const g of this.groups) g.optimizer.dispose();
  }
}

/**
 * The run's optimizer: `make` over every trainable parameter, or with `policyLr` (or PPO passes),
 * two groups, the transition-policy parameters at `policyLr` and the rest at `lr` (both decayed
 * alike).
 */
export function groupedOptimizer(
  params: [string, Tensor][],
  o: Pick<TrainOptions, "lr" | "policyLr"> & Partial<Pick<TrainOptions, "ppoEpochs">>,
  make: (params: [string, Tensor][], lr: number) => Optimizer,
): Optimizer {
  // PPO's extra passes step the policy group alone: it has its own group then, at lr if unset.
  if (o.policyLr === undefined && (o.ppoEpochs ?? 1) <= 1) return make(params, o.lr);
  const policyLr = o.policyLr ?? o.lr;
  const policy = params.filter(([n]) => isPolicyParameter(n));
  if (policy.length === 0) throw new Error("--policy-lr: the model has no transition-policy parameters");
  const rest = params.filter(([n]) => !isPolicyParameter(n));
  return new GroupedOptimizer(
    [
      { optimizer: make(rest, o.lr), lrScale: 1 },
      { optimizer: make(policy, policyLr), lrScale: policyLr / o.lr },
    ],
    o.lr,
  );
}
