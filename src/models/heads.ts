// Classifier heads. Both are the article's MLP: batch norm and dropout on the input features,
// then layers of Linear → ReLU → batch norm → dropout, then a final Linear to class scores.
import { BatchNorm, cat, Linear, type ParamPath, type Tensor } from "../engine/index.js";
import { BatchShard } from "./batch-shard.js";

export interface MlpConfig {
  dMlp: number;
  nMlp: number;
  mlpDropout: number;
}

export class Mlp {
  readonly inputNorm: BatchNorm;
  readonly layers: { linear: Linear; norm: BatchNorm }[] = [];
  readonly output: Linear;

  constructor(
    path: ParamPath,
    inputSize: number,
    classes: number,
    readonly config: MlpConfig,
  ) {
    this.inputNorm = new BatchNorm(path.sub("input_bn"), inputSize);
    let size = inputSize;
    for (let l = 0; l < config.nMlp; l++) {
      const p = path.sub(`layers.${l}`);
      this.layers.push({
        linear: new Linear(p.sub("linear"), size, config.dMlp),
        norm: new BatchNorm(p.sub("bn"), config.dMlp),
      });
      size = config.dMlp;
    }
    this.output = new Linear(path.sub("output"), size, classes);
  }

  /** Class scores; batch norm and dropout see the shard's global batch (batch-shard.ts). */
  forward(
    features: Tensor,
    training: boolean,
    shard = BatchShard.whole(new Int32Array(0), features.shape[0]!),
  ): Tensor {
    const p = this.config.mlpDropout;
    const rows = shard.exampleRows;
    const normed = (norm: BatchNorm, x: Tensor) =>
      shard.dropout(shard.batchNorm(norm, x, training, rows), p, training, rows);
    let x = normed(this.inputNorm, features);
    for (const { linear, norm } of this.layers) x = normed(norm, linear.forward(x).relu());
    return this.output.forward(x);
  }
}

/** Sentence-pair features [p, h, p − h, p ⊙ h]. */
export function pairFeatures(premise: Tensor, hypothesis: Tensor): Tensor {
  return cat([premise, hypothesis, premise.sub(hypothesis), premise.mul(hypothesis)], 1);
}
