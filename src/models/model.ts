// A whole model: leaves → sentence encoder → classifier head, built from a JSON-serialisable
// config into one ParameterStore (so checkpoints save it by name).
import type { ClassificationBatch, NliBatch, SentenceBatch } from "../data/batching.js";
import { LISTOPS_NUM_CLASSES } from "../data/listops.js";
import { NLI_LABELS } from "../data/nli.js";
import { type Device, type DType, Linear, noGrad, ParameterStore, type Tensor } from "../engine/index.js";
import { CbowEncoder, LstmEncoder } from "./baselines.js";
import { batchLayout } from "./batch-layout.js";
import { BatchShard } from "./batch-shard.js";
import type {
  EncoderPass,
  FollowedTrees,
  KeptReduces,
  SentenceEncoder,
  TransitionSource,
} from "./encoder.js";
import { Mlp } from "./heads.js";
import {
  ENCODERS,
  type EncoderKind,
  predictsTransitions,
  type Task,
  TRANSITION_MODES,
  type TransitionMode,
} from "./kinds.js";
import { LeafEmbedder } from "./leaves.js";
import { MergeParser } from "./merge-parser.js";
import { alongTrees, makeParser, type ParserSizes, type TreeParser } from "./parser.js";
import { DEFAULT_SIZES, type ModelSizes } from "./sizes.js";
import { SpinnEncoder } from "./spinn.js";

export interface ModelConfig extends ModelSizes {
  task: Task;
  encoder: EncoderKind;
  vocabSize: number;
  classes: number;
  /** Train the word embeddings (false: keep them frozen, e.g. pretrained GloVe). */
  trainEmbeddings: boolean;
  /** The trees SPINN composes along: the data's parses ("gold") or a fixed shape. */
  transitions: TransitionMode;
  /**
   * RL-SPINN's learned baseline (`--baseline learned`): a linear value head that predicts the
   * reward from the classifier's features of the greedy parse (see baselineValue). Absent: none.
   */
  valueHead?: boolean;
  /**
   * A parser disjoint from the composer (`--parser separate`, parser.ts; full SPINN and RL-SPINN):
   * its sizes. The encoder then has no tracker and composes along the parser's trees. Absent: the
   * encoder's own tracker decides the transitions.
   */
  parser?: ParserSizes;
  /**
   * With a separate parser: the size of the composer's own tracker (`--composer-tracker`), an LSTM
   * that follows the parser's transitions and feeds every composition, as SPINN-PI's follows
   * given ones. Absent or 0: the composer has none (SPINN-PI-NT along the parser's trees).
   */
  composerTracker?: number;
}

export function defaultConfig(task: Task, encoder: EncoderKind, vocabSize: number): ModelConfig {
  return {
    task,
    encoder,
    vocabSize,
    classes: task === "nli" ? NLI_LABELS.length : LISTOPS_NUM_CLASSES,
    ...DEFAULT_SIZES,
    trainEmbeddings: true,
    transitions: "gold",
  };
}

export interface ModelPass {
  logits: Tensor;
  /** ListOps batches with sub-list values (batch.subtrees): class scores of each sub-list, K × classes. */
  subtreeLogits: Tensor | null;
  /** The global batch's sub-lists (all ranks'): the sub-list loss's normaliser. */
  globalSubtrees: number;
  transitionLoss: Tensor | null;
  /**
   * Per example (batch), for encoders that predict transitions: the log-probability of the trees
   * followed under the tracker's policy (premise and hypothesis together) and the policy's
   * entropy, summed over the steps with a real choice. What REINFORCE trains the policy with.
   */
  logProb: Tensor | null;
  entropy: Tensor | null;
  trees: Uint8Array[] | null;
  /** Per sentence, with a merge parser: the merge order that built its tree (rescored by PPO). */
  merges: Int32Array[] | null;
}

export class Model {
  readonly store: ParameterStore;
  readonly leaves: LeafEmbedder;
  readonly encoder: SentenceEncoder;
  readonly head: Mlp;
  readonly value: Linear | null;
  readonly parser: TreeParser | null;

  constructor(
    readonly config: ModelConfig,
    options: { dtype?: DType; device?: Device } = {},
  ) {
    validateConfig(config);
    this.store = new ParameterStore(options);
    const root = this.store.root();
    this.leaves = new LeafEmbedder(root, config);
    this.encoder = makeEncoder(root.sub("encoder"), config);
    const features = config.task === "nli" ? 4 * this.encoder.outputSize : this.encoder.outputSize;
    this.head = new Mlp(root.sub("classifier"), features, config.classes, config);
    this.value = config.valueHead ? new Linear(root.sub("value"), features, 1) : null;
    this.parser = config.parser ? makeParser(root.sub("parser"), config.parser, config.vocabSize) : null;
    if (!config.trainEmbeddings) {
      this.store.freeze("embed.weight");
      if (this.parser) this.store.freeze("parser.embed.weight");
    }
  }

  /** Encodes sentences (N × encoder size), the transitions from the model's source (transitionSource). */
  encode(batch: SentenceBatch, training: boolean): Tensor {
    return this.sentencePass(batch, training, this.transitionSource(training)).encoding;
  }

  /**
   * The encoder's pass over a batch of sentences, its transitions decided as `source` says: by
   * the encoder's own tracker, or with a separate parser by the parser, whose trees the encoder
   * then follows (the pass's trees and policy terms are the parser's).
   */
  sentencePass(
    sentences: SentenceBatch,
    training: boolean,
    source: TransitionSource,
    shard?: BatchShard,
    keep?: KeptReduces,
  ): EncoderPass {
    if (!this.parser) {
      return this.encoder.run(
        this.leaves.forward(sentences, training, shard),
        sentences,
        source,
        shard,
        keep,
      );
    }
    const parse = this.parser.run(sentences, training, source, shard);
    const followed = alongTrees(sentences, parse.trees!);
    const leaves = this.leaves.forward(followed, training, shard);
    const pass = this.encoder.run(leaves, followed, "given", shard, keep);
    return { ...pass, trees: parse.trees!, ...(parse.policy ? { policy: parse.policy } : {}) };
  }

  /**
   * The pass of whatever decides the transitions, alone (the separate parser, or the encoder):
   * its trees and policy terms, for parsing and for PPO's recomputed log-probabilities.
   */
  policyPass(sentences: SentenceBatch, training: boolean, source: TransitionSource): EncoderPass {
    if (this.parser) return this.parser.run(sentences, training, source);
    return this.encoder.run(this.leaves.forward(sentences, training), sentences, source);
  }

  /**
   * The policy terms of trees the model chose earlier (`sentences.transitions`; PPO's rescoring,
   * without dropout): a merge parser scores their merge orders instead (`merges`, one per
   * sentence), since a tree has many and the sample's probability is its order's.
   */
  rescorePass(sentences: SentenceBatch, merges: readonly Int32Array[] | null): EncoderPass {
    if (!(this.parser instanceof MergeParser)) return this.policyPass(sentences, false, "given");
    if (!merges) throw new Error("a merge parser's trees are rescored by their merge orders: pass them");
    return this.parser.scoreMerges(sentences, merges);
  }

  /**
   * Where a SPINN's transitions come from by default: the given trees for SPINN-PI(-NT) and for
   * full SPINN in training (teacher forcing), samples from the policy for RL-SPINN in training,
   * and the most probable valid actions when a predicting model is evaluated.
   */
  transitionSource(training: boolean): TransitionSource {
    if (!predictsTransitions(this.config.encoder)) return "given";
    if (!training) return "greedy";
    return this.config.encoder === "rl-spinn" ? "sample" : "given";
  }

  /**
   * One pass: class scores (batch × classes), the transition loss of full SPINN in training
   * (teacher forcing), the policy terms of predicting encoders, and for SPINN models the tree
   * each sentence was composed along (premises, then hypotheses). `source` overrides where the
   * transitions come from (e.g. RL-SPINN's greedy parse for a self-critical baseline). A training
   * pass over one rank's part of a global batch takes that part's `shard` (batch-shard.ts).
   * `readSubtrees` (ListOps with the sub-lists' values, training with --subtree-weight): also
   * read out each sub-list's state with the same head as the whole expression's; a training step
   * says so on every rank (by default: when this batch has sub-lists).
   */
  run(
    batch: NliBatch | ClassificationBatch,
    training: boolean,
    source: TransitionSource = this.transitionSource(training),
    shard?: BatchShard,
    readSubtrees = subtreesOf(batch).step.length > 0,
  ): ModelPass {
    const layout = batchLayout(batch);
    const { sentences } = layout;
    const s = shard ?? BatchShard.whole(sentences.lengths, layout.examples);
    // Decided on the global batch, so every rank runs the same collectives and draws (a rank
    // without sub-lists, or with no examples, included). Batch norm in training needs two rows
    // for its statistics (one gives an infinite running variance): a global batch with fewer
    // sub-lists trains on its labels alone.
    const subtrees = readSubtrees ? subtreesOf(batch) : null;
    const subtreeRows = subtrees ? s.rowsAmongRanks(subtrees.step.length) : null;
    const keep = subtreeRows && subtreeRows.globalRows >= (training ? 2 : 1) ? subtrees! : undefined;
    const pass = this.sentencePass(sentences, training, source, s, keep);
    const features = layout.features(pass.encoding);
    return {
      logits: this.head.forward(features, training, s),
      subtreeLogits:
        pass.kept && subtreeRows && keep
          ? this.head.forward(pass.kept, training, s.withExampleRows(subtreeRows))
          : null,
      globalSubtrees: keep ? subtreeRows!.globalRows : 0,
      transitionLoss: pass.policy?.transitionLoss ?? null,
      logProb: pass.policy ? layout.perExample(pass.policy.logProb) : null,
      entropy: pass.policy ? layout.perExample(pass.policy.entropy) : null,
      trees: pass.trees ? treesPerSentence(pass.trees, sentences.lengths) : null,
      merges: pass.trees?.merges ?? null,
    };
  }

  /**
   * The value head's prediction of each example's reward (the learned baseline). It reads the
   * features of the greedy parse, not of the tree sampled in training: a baseline must not
   * depend on the sampled tree, or the policy gradient is biased (and a head that sees the
   * sampled tree's encoding learns the reward itself, so every advantage shrinks towards 0).
   * The encoder runs without gradient: training the head leaves the encoder alone.
   */
  baselineValue(batch: NliBatch | ClassificationBatch, training: boolean, shard?: BatchShard): Tensor {
    if (!this.value) throw new Error("the learned baseline needs a model with a value head");
    const layout = batchLayout(batch);
    const { sentences } = layout;
    const s = shard ?? BatchShard.whole(sentences.lengths, layout.examples);
    const features = noGrad(() =>
      layout.features(this.sentencePass(sentences, training, "greedy", s).encoding),
    );
    return this.value.forward(features).reshape(-1);
  }

  /** Class scores (batch × classes) for an NLI or a single-sentence batch. */
  forward(batch: NliBatch | ClassificationBatch, training: boolean): Tensor {
    return this.run(batch, training).logits;
  }

  dispose(): void {
    this.store.dispose();
  }
}

function makeEncoder(path: ReturnType<ParameterStore["root"]>, c: ModelConfig): SentenceEncoder {
  switch (c.encoder) {
    case "spinn-pi-nt":
      return new SpinnEncoder(path, { dHidden: c.dHidden, dTracker: 0 });
    case "spinn-pi":
      return new SpinnEncoder(path, { dHidden: c.dHidden, dTracker: c.dTracker });
    case "spinn":
    case "rl-spinn":
      // With a separate parser, the encoder composes along its trees, with a tracker of its own
      // only if asked (composerTracker).
      return c.parser
        ? new SpinnEncoder(path, { dHidden: c.dHidden, dTracker: c.composerTracker ?? 0 })
        : new SpinnEncoder(path, { dHidden: c.dHidden, dTracker: c.dTracker, predictTransitions: true });
    case "lstm":
      return new LstmEncoder(path, c.dHidden, false);
    case "bilstm":
      return new LstmEncoder(path, c.dHidden, true);
    case "cbow":
      return new CbowEncoder(c.dHidden);
  }
}

function validateConfig(c: ModelConfig): void {
  if (!ENCODERS.includes(c.encoder))
    throw new Error(`unknown encoder "${c.encoder}" (expected ${ENCODERS.join(", ")})`);
  for (const key of ["vocabSize", "classes", "dEmbed", "dHidden"] as const) {
    if (!Number.isInteger(c[key]) || c[key] < 1)
      throw new Error(`model config: ${key} must be a positive integer`);
  }
  if (!TRANSITION_MODES.includes(c.transitions)) {
    throw new Error(`model config: transitions must be one of ${TRANSITION_MODES.join(", ")}`);
  }
  if (c.encoder === "rl-spinn" && c.transitions !== "gold") {
    throw new Error("model config: rl-spinn learns its own trees; transitions must be gold (unused)");
  }
  if ((c.encoder === "spinn-pi" || predictsTransitions(c.encoder)) && !(c.dTracker >= 1)) {
    throw new Error(`model config: ${c.encoder} needs dTracker >= 1`);
  }
  if (c.parser) {
    if (!predictsTransitions(c.encoder))
      throw new Error(
        `model config: a separate parser needs a model that parses (spinn, rl-spinn), not ${c.encoder}`,
      );
    for (const key of ["dEmbed", "dHidden", "dTracker"] as const) {
      if (!Number.isInteger(c.parser[key]) || c.parser[key] < 1)
        throw new Error(`model config: parser.${key} must be a positive integer`);
    }
    const kind = c.parser.kind ?? "shift-reduce";
    if (kind !== "shift-reduce" && kind !== "merge")
      throw new Error(`model config: parser.kind must be shift-reduce or merge, not ${JSON.stringify(kind)}`);
    if (kind === "merge" && c.encoder !== "rl-spinn")
      throw new Error(
        `model config: the merge parser learns from the reward alone: it needs rl-spinn, not ${c.encoder}`,
      );
    if (c.parser.dEmbed !== c.dEmbed)
      throw new Error("model config: parser.dEmbed must equal dEmbed (the two share pretrained vectors)");
  }
  if (c.composerTracker !== undefined) {
    if (!Number.isInteger(c.composerTracker) || c.composerTracker < 0)
      throw new Error("model config: composerTracker must be an integer >= 0");
    if (c.composerTracker > 0 && !c.parser)
      throw new Error(
        "model config: composerTracker sizes the composer's tracker beside a separate parser: it needs parser",
      );
  }
  for (const key of ["embedDropout", "mlpDropout"] as const) {
    if (!(c[key] >= 0 && c[key] < 1)) throw new Error(`model config: ${key} must be in [0, 1)`);
  }
}

/** Each sentence's own transitions (2n − 1 for n words), without the batch's padding. */
function treesPerSentence(trees: FollowedTrees, lengths: Int32Array): Uint8Array[] {
  return Array.from(lengths, (n, i) => trees.transitions.slice(i * trees.steps, i * trees.steps + 2 * n - 1));
}

/** The batch's sub-lists with their values (none: an empty list, e.g. a rank's empty part). */
export function subtreesOf(batch: NliBatch | ClassificationBatch): KeptSubtrees {
  if ("subtrees" in batch && batch.subtrees) return batch.subtrees;
  return { sentence: new Int32Array(0), step: new Int32Array(0), labels: new Int32Array(0) };
}

type KeptSubtrees = NonNullable<ClassificationBatch["subtrees"]>;
