// Parameters and layers. Parameters live in one store under dotted names (as PyTorch's
// state_dict: "reduce.left.weight"), so checkpoints, optimizers and freezing all work by name.
// Layers are plain classes built from a path in the store; their forward passes are engine ops.

import { BatchedLinear } from "./batched-linear.js";
import type { Device, DType } from "./dtype.js";
import { rand, randn, zeros } from "./factories.js";
import { batchNorm, cat, linear, lstmCell } from "./functional.js";
import { native } from "./native.js";
import { keep, scope } from "./scope.js";
import { type GatherPart, StateMemory } from "./state-memory.js";
import { type Tensor, wrap } from "./tensor.js";

export interface StoreOptions {
  dtype?: DType;
  device?: Device;
}

/** Every parameter and buffer (non-trained state such as running means) of a model, by name. */
export class ParameterStore {
  readonly dtype: DType;
  readonly device: Device;
  readonly #tensors = new Map<string, Tensor>();
  readonly #trainable = new Set<string>();

  constructor(options: StoreOptions = {}) {
    this.dtype = options.dtype ?? "float32";
    this.device = options.device ?? "cpu";
  }

  root(): ParamPath {
    return new ParamPath(this, "");
  }

  /** @internal registers a tensor (taken out of every scope) under a new name. */
  add(name: string, t: Tensor, trainable: boolean): Tensor {
    if (this.#tensors.has(name)) throw new Error(`parameter "${name}" is defined twice`);
    keep(t);
    if (trainable) t.setRequiresGrad(true);
    this.#tensors.set(name, t);
    if (trainable) this.#trainable.add(name);
    return t;
  }

  get(name: string): Tensor {
    const t = this.#tensors.get(name);
    if (!t) throw new Error(`no parameter named "${name}"`);
    return t;
  }

  /** Trainable parameters, by name, in definition order (what optimizers take). */
  trainable(): [string, Tensor][] {
    return [...this.#tensors].filter(([n]) => this.#trainable.has(n));
  }

  /** Every parameter and buffer, by name (what checkpoints save). */
  all(): Map<string, Tensor> {
    return new Map(this.#tensors);
  }

  /** Stops training a parameter (e.g. frozen pretrained embeddings). */
  freeze(name: string): void {
    this.get(name).setRequiresGrad(false);
    this.#trainable.delete(name);
  }

  /** Copies saved tensors into the store; names and shapes must match exactly. */
  load(saved: Map<string, Tensor>): void {
    const missing = [...this.#tensors.keys()].filter((n) => !saved.has(n));
    const unexpected = [...saved.keys()].filter((n) => !this.#tensors.has(n));
    if (missing.length || unexpected.length) {
      throw new Error(
        `checkpoint does not match the model: missing [${missing.join(", ")}], unexpected [${unexpected.join(", ")}]`,
      );
    }
    for (const [name, t] of this.#tensors) {
      const s = saved.get(name)!;
      if (s.shape.join(",") !== t.shape.join(",")) {
        throw new Error(
          `checkpoint tensor "${name}" has shape [${s.shape}] but the model expects [${t.shape}]`,
        );
      }
      t.copy_(s);
    }
  }

  /** Number of trainable scalars. */
  countTrainable(): number {
    return this.trainable().reduce((n, [, t]) => n + t.numel, 0);
  }

  dispose(): void {
    for (const t of this.#tensors.values()) t.dispose();
    this.#tensors.clear();
    this.#trainable.clear();
  }
}

/**
 * A position in the store: parameters created here are named "<path>.<name>". Each initialiser
 * runs in a scope, so its intermediates (the raw draw before scaling) are freed at once rather
 * than whenever the garbage collector finalizes their handles: for the default SNLI model they
 * held 36 MiB for the whole run.
 */
export class ParamPath {
  constructor(
    readonly store: ParameterStore,
    readonly prefix: string,
  ) {}

  sub(name: string): ParamPath {
    return new ParamPath(this.store, this.name(name));
  }

  name(leaf: string): string {
    return this.prefix ? `${this.prefix}.${leaf}` : leaf;
  }

  /** A trainable parameter drawn uniformly from [-bound, bound] (PyTorch's default inits). */
  uniform(name: string, shape: readonly number[], bound: number): Tensor {
    const t = scope(() =>
      rand(shape, this.options())
        .mul(2 * bound)
        .sub(bound),
    );
    return this.store.add(this.name(name), t, true);
  }

  /** A trainable parameter drawn from N(0, std²). */
  normal(name: string, shape: readonly number[], std = 1): Tensor {
    return this.store.add(
      this.name(name),
      scope(() => randn(shape, this.options()).mul(std)),
      true,
    );
  }

  /** A trainable parameter filled with a constant. */
  constant(name: string, shape: readonly number[], value: number): Tensor {
    return this.store.add(
      this.name(name),
      scope(() => zeros(shape, this.options()).add(value)),
      true,
    );
  }

  /** A trainable (or frozen) parameter from a given tensor (converted to the store's dtype/device). */
  from(name: string, t: Tensor, trainable = true): Tensor {
    const converted = scope(() => t.to(this.store.dtype).to(this.store.device));
    return this.store.add(this.name(name), converted, trainable);
  }

  /** Non-trained state saved with the model (running statistics). */
  buffer(name: string, shape: readonly number[], value: number): Tensor {
    return this.store.add(
      this.name(name),
      scope(() => zeros(shape, this.options()).add(value)),
      false,
    );
  }

  private options() {
    return { dtype: this.store.dtype, device: this.store.device };
  }
}

/** y = x Wᵀ + b, with PyTorch's nn.Linear names and initialisation. */
export class Linear {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(path: ParamPath, inFeatures: number, outFeatures: number, options: { bias?: boolean } = {}) {
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = path.uniform("weight", [outFeatures, inFeatures], bound);
    this.bias = options.bias === false ? null : path.uniform("bias", [outFeatures], bound);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  /**
   * forward(StateMemory.gatherParts(parts)) in one native call: the same values and gradients
   * (stock autograd), for inputs that are rows of state memories.
   */
  forwardGathered(parts: readonly GatherPart[]): Tensor {
    const gather = StateMemory.gatherArgs(parts);
    return wrap(native.gatheredLinear(this.weight.handle, this.bias?.handle ?? null, ...gather));
  }
}

/** Batch normalisation over the feature dimension of N × F inputs (nn.BatchNorm1d names). */
export class BatchNorm {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(
    path: ParamPath,
    features: number,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
  ) {
    this.weight = path.constant("weight", [features], 1);
    this.bias = path.constant("bias", [features], 0);
    this.runningMean = path.buffer("running_mean", [features], 0);
    this.runningVar = path.buffer("running_var", [features], 1);
  }

  /** Training: batch statistics (running ones updated); evaluation: the running statistics. */
  forward(x: Tensor, training: boolean): Tensor {
    return batchNorm(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

/** An LSTM cell with nn.LSTMCell's names, gate order (i, f, g, o) and initialisation. */
export class LSTMCell {
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  readonly biasIh: Tensor;
  readonly biasHh: Tensor;

  constructor(
    path: ParamPath,
    readonly inputSize: number,
    readonly hiddenSize: number,
  ) {
    const bound = 1 / Math.sqrt(hiddenSize);
    this.weightIh = path.uniform("weight_ih", [4 * hiddenSize, inputSize], bound);
    this.weightHh = path.uniform("weight_hh", [4 * hiddenSize, hiddenSize], bound);
    this.biasIh = path.uniform("bias_ih", [4 * hiddenSize], bound);
    this.biasHh = path.uniform("bias_hh", [4 * hiddenSize], bound);
  }

  /**
   * The gates' product for a sequence of steps that apply the cell to `rows` rows in all:
   * [W_ih | W_hh] over [x, h] plus b_ih + b_hh, one matrix product per step, and one weight
   * gradient product for the whole sequence (BatchedLinear). Build it once per sequence.
   */
  stepProduct(rows: number): BatchedLinear {
    return new BatchedLinear(cat([this.weightIh, this.weightHh], 1), this.biasIh.add(this.biasHh), rows);
  }

  forward(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    product = this.stepProduct(x.shape[0]!),
  ): { h: Tensor; c: Tensor } {
    const out = lstmCell(product.forward(cat([x, h], 1)), c);
    return { h: out.narrow(1, 0, this.hiddenSize), c: out.narrow(1, this.hiddenSize, this.hiddenSize) };
  }
}
