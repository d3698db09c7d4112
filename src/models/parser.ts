// A parser disjoint from the composer (`--parser separate`, after Havrylov et al. 2019,
// "Cooperative learning of disjoint syntax and semantics"): its own embeddings, its own TreeLSTM
// and its own tracker, whose SHIFT/REDUCE head decides the transitions. The composer (the model's
// encoder, then without a tracker) composes along the trees the parser chose, as SPINN-PI-NT
// composes along given ones. The transitions are discrete, so the task loss never reaches the
// parser: RL-SPINN trains it by its policy loss alone, full SPINN by its transition loss alone.
import type { SentenceBatch } from "../data/batching.js";
import type { ParamPath, Tensor } from "../engine/index.js";
import type { BatchShard } from "./batch-shard.js";
import type { EncoderPass, TransitionSource } from "./encoder.js";
import type { ParserKind } from "./kinds.js";
import { LeafEmbedder } from "./leaves.js";
import { MergeParser } from "./merge-parser.js";
import { SpinnEncoder } from "./spinn.js";

/**
 * The separate parser's kind and sizes (its embeddings are as wide as the composer's, for shared
 * vectors): a shift-reduce parser (this file; `kind` absent in models saved before the merge
 * parser) or the easy-first merge parser (merge-parser.ts, whose dTracker sizes its context LSTM).
 */
export interface ParserSizes {
  kind?: "shift-reduce" | "merge";
  dEmbed: number;
  dHidden: number;
  dTracker: number;
}

/** Whatever decides a model's trees apart from its composer. */
export type TreeParser = Parser | MergeParser;

/**
 * A model config's parser for `--parser KIND` (none for "shared": the encoder's own tracker):
 * the embeddings as wide as the composer's, its hidden size `parserHidden` (default the
 * composer's) and its tracker (a merge parser's context LSTM) `dTracker`.
 */
export function parserConfig(
  kind: ParserKind,
  o: { dEmbed: number; dHidden: number; dTracker: number; parserHidden?: number | undefined },
): { parser?: ParserSizes } {
  if (kind === "shared") return {};
  return {
    parser: {
      ...(kind === "merge" ? { kind: "merge" as const } : {}),
      dEmbed: o.dEmbed,
      dHidden: o.parserHidden ?? o.dHidden,
      dTracker: o.dTracker,
    },
  };
}

export function makeParser(path: ParamPath, sizes: ParserSizes, vocabSize: number): TreeParser {
  return sizes.kind === "merge"
    ? new MergeParser(path, sizes, vocabSize)
    : new Parser(path, sizes, vocabSize);
}

export class Parser {
  readonly leaves: LeafEmbedder;
  readonly encoder: SpinnEncoder;

  constructor(
    path: ParamPath,
    readonly sizes: ParserSizes,
    vocabSize: number,
  ) {
    // No dropout: the policy that samples the trees is the one whose log-probabilities the PPO
    // passes recompute (ppo.ts).
    this.leaves = new LeafEmbedder(path, {
      vocabSize,
      dEmbed: sizes.dEmbed,
      dHidden: sizes.dHidden,
      embedDropout: 0,
    });
    this.encoder = new SpinnEncoder(path.sub("encoder"), {
      dHidden: sizes.dHidden,
      dTracker: sizes.dTracker,
      predictTransitions: true,
    });
  }

  /** The parser's word vectors (pretrained ones are copied in). */
  get embed(): Tensor {
    return this.leaves.embed;
  }

  /** The parser's pass: the trees it followed (decided as `source` says) and their policy terms. */
  run(batch: SentenceBatch, training: boolean, source: TransitionSource, shard?: BatchShard): EncoderPass {
    return this.encoder.run(this.leaves.forward(batch, training, shard), batch, source, shard);
  }
}

/** The batch with its transitions replaced by `trees` (N × steps, SKIP-padded). */
export function alongTrees(
  batch: SentenceBatch,
  trees: { transitions: Uint8Array; steps: number },
): SentenceBatch {
  return { ...batch, transitions: trees.transitions, steps: trees.steps };
}
