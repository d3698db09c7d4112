// The leaf pipeline shared by every encoder: word ids → embeddings → projection to 2H (a leaf's
// h and c, as in the article) → batch norm → dropout. Leaves are compact: sentence i's token j
// is row leafOffset[i] + j, with no padding rows (padding would skew batch-norm statistics).
import type { SentenceBatch } from "../data/batching.js";
import { BatchNorm, embedding, Linear, type ParamPath, scope, type Tensor, tensor } from "../engine/index.js";
import { BatchShard } from "./batch-shard.js";

export interface LeafConfig {
  vocabSize: number;
  dEmbed: number;
  dHidden: number;
  embedDropout: number;
}

/** The token ids of a padded batch, without padding, sentence after sentence. */
export function compactIds(batch: SentenceBatch): Int32Array {
  let total = 0;
  for (let i = 0; i < batch.size; i++) total += batch.lengths[i]!;
  const out = new Int32Array(total);
  let k = 0;
  for (let i = 0; i < batch.size; i++) {
    const n = batch.lengths[i]!;
    out.set(batch.ids.subarray(i * batch.width, i * batch.width + n), k);
    k += n;
  }
  return out;
}

export class LeafEmbedder {
  readonly embed: Tensor;
  readonly projection: Linear;
  readonly norm: BatchNorm;

  constructor(
    path: ParamPath,
    readonly config: LeafConfig,
  ) {
    // N(0, 1) as nn.Embedding; pretrained vectors are copied in afterwards.
    this.embed = path.sub("embed").normal("weight", [config.vocabSize, config.dEmbed]);
    this.projection = new Linear(path.sub("projection"), config.dEmbed, 2 * config.dHidden);
    this.norm = new BatchNorm(path.sub("embed_bn"), 2 * config.dHidden);
  }

  /**
   * Leaf states (tokens × 2H) of a batch, compact. Batch norm and dropout see the shard's global
   * batch (batch-shard.ts): its statistics, its random draws. In a scope of its own: the
   * intermediates that the backward pass does not need (the batch norm's output, 2H per token)
   * are freed now, not when the training step ends.
   */
  forward(
    batch: SentenceBatch,
    training: boolean,
    shard = BatchShard.whole(batch.lengths, batch.size),
  ): Tensor {
    return scope(() => {
      const ids = tensor(compactIds(batch), { device: this.embed.device });
      const projected = this.projection.forward(embedding(this.embed, ids));
      const rows = shard.leafRows;
      return shard.dropout(
        shard.batchNorm(this.norm, projected, training, rows),
        this.config.embedDropout,
        training,
        rows,
      );
    });
  }
}
