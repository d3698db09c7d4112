// Optimizers (SGD with momentum, Adam, RMSprop; L2 weight decay) and gradient clipping. Each
// step is one native call over all parameters. State tensors belong to the optimizer, live
// outside scopes, and are exposed by name so checkpoints can save and restore them exactly.
import { zerosLike } from "./factories.js";
import { native } from "./native.js";
import type { Handle } from "./native-types.js";
import { keep } from "./scope.js";
import type { Tensor } from "./tensor.js";

/** Parameters by name (names key the optimizer state in checkpoints), or a plain list. */
export type ParamList = ReadonlyArray<readonly [string, Tensor]> | readonly Tensor[];

export interface OptimizerState {
  step: number;
  lr: number;
  /** State tensors named "<slot>.<parameter name>". */
  tensors: Map<string, Tensor>;
}

export abstract class Optimizer {
  readonly params: readonly Tensor[];
  readonly names: readonly string[];
  /** Learning rate; schedules change it between steps. */
  lr: number;
  /** Steps taken so far. */
  stepCount = 0;
  protected readonly slots: Record<string, Tensor[]> = {};
  #paramHandles: Handle[] | undefined;

  constructor(params: ParamList, lr: number) {
    if (!(lr > 0)) throw new RangeError(`learning rate must be positive, got ${lr}`);
    const named = params.map((p, i) =>
      Array.isArray(p) ? (p as readonly [string, Tensor]) : ([String(i), p as Tensor] as const),
    );
    this.names = named.map(([n]) => n);
    this.params = named.map(([, t]) => t);
    if (new Set(this.names).size !== this.names.length) throw new Error("parameter names must be unique");
    this.lr = lr;
  }

  /** One state tensor per parameter, zero-initialised, for the named slot. */
  protected addSlot(name: string): Tensor[] {
    const tensors = this.params.map((p) => keep(zerosLike(p)));
    this.slots[name] = tensors;
    return tensors;
  }

  protected get paramHandles(): Handle[] {
    this.#paramHandles ??= this.params.map((p) => p.handle);
    return this.#paramHandles;
  }

  protected handles(slot: string): Handle[] {
    return (this.slots[slot] ?? []).map((t) => t.handle);
  }

  /** Forgets every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** Applies one update from the current gradients (parameters without one are skipped). */
  step(): void {
    this.stepCount++;
    this.update();
  }

  protected abstract update(): void;

  state(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const [slot, ts] of Object.entries(this.slots)) {
      for (const [i, t] of ts.entries()) tensors.set(`${slot}.${this.names[i]}`, t);
    }
    return { step: this.stepCount, lr: this.lr, tensors };
  }

  /** Restores state saved by state(): every slot of every parameter must be present. */
  loadState(state: OptimizerState): void {
    for (const [slot, ts] of Object.entries(this.slots)) {
      ts.forEach((t, i) => {
        const name = `${slot}.${this.names[i]}`;
        const saved = state.tensors.get(name);
        if (!saved) throw new Error(`optimizer state is missing "${name}"`);
        if (saved.shape.join(",") !== t.shape.join(",")) {
          throw new Error(
            `optimizer state "${name}" has shape [${saved.shape}] but the parameter has [${t.shape}]`,
          );
        }
        t.copy_(saved);
      });
    }
    this.stepCount = state.step;
    this.lr = state.lr;
  }

  dispose(): void {
    for (const ts of Object.values(this.slots)) for (const t of ts) t.dispose();
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** SGD as torch.optim.SGD: buf = momentum·buf + (1−dampening)·g (buf = g at step 1). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: ParamList, o: SGDOptions) {
    super(params, o.lr);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (this.momentum !== 0) this.addSlot("momentum_buffer");
  }

  protected update(): void {
    native.sgdStep(
      this.paramHandles,
      this.handles("momentum_buffer"),
      this.stepCount,
      this.lr,
      this.momentum,
      this.dampening,
      this.weightDecay,
      this.nesterov,
    );
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam as torch.optim.Adam (bias-corrected moments; L2 decay added to the gradient). */
export class Adam extends Optimizer {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;

  constructor(params: ParamList, o: AdamOptions = {}) {
    super(params, o.lr ?? 1e-3);
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.addSlot("exp_avg");
    this.addSlot("exp_avg_sq");
  }

  protected update(): void {
    native.adamStep(
      this.paramHandles,
      this.handles("exp_avg"),
      this.handles("exp_avg_sq"),
      this.stepCount,
      this.lr,
      this.betas[0],
      this.betas[1],
      this.eps,
      this.weightDecay,
    );
  }
}

export interface RMSpropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
}

/** RMSprop as torch.optim.RMSprop: sq = α·sq + (1−α)·g², p −= lr·g / (√sq + eps). */
export class RMSprop extends Optimizer {
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;

  constructor(params: ParamList, o: RMSpropOptions = {}) {
    super(params, o.lr ?? 1e-2);
    this.alpha = o.alpha ?? 0.99;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.momentum = o.momentum ?? 0;
    this.addSlot("square_avg");
    if (this.momentum !== 0) this.addSlot("momentum_buffer");
  }

  protected update(): void {
    native.rmspropStep(
      this.paramHandles,
      this.handles("square_avg"),
      this.handles("momentum_buffer"),
      this.lr,
      this.alpha,
      this.eps,
      this.weightDecay,
      this.momentum,
    );
  }
}

/**
 * Scales the gradients of params so that their global L2 norm is at most maxNorm (as
 * torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`maxNorm must be positive, got ${maxNorm}`);
  return native.clipGradNorm(
    params.map((p) => p.handle),
    maxNorm,
  );
}
