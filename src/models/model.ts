// A whole model: leaves → sentence encoder → classifier head, built from a JSON-serialisable
// config into one ParameterStore (so checkpoints save it by name).
import type { ClassificationBatch, NliBatch, SentenceBatch } from "../data/batching.js";
import { LISTOPS_NUM_CLASSES } from "../data/listops.js";
import { NLI_LABELS } from "../data/nli.js";
import { SKIP } from "../data/transitions.js";
import { type Device, type DType, ParameterStore, type Tensor } from "../engine/index.js";
import { CbowEncoder, LstmEncoder, type SentenceEncoder } from "./baselines.js";
import { Mlp, pairFeatures } from "./heads.js";
import {
  ENCODERS,
  type EncoderKind,
  predictsTransitions,
  type Task,
  TRANSITION_MODES,
  type TransitionMode,
} from "./kinds.js";
import { LeafEmbedder } from "./leaves.js";
import { DEFAULT_SIZES, type ModelSizes } from "./sizes.js";
import { SpinnEncoder, type TransitionSource } from "./spinn.js";

export { ENCODERS, type EncoderKind, type Task, type TransitionMode };

export interface ModelConfig extends ModelSizes {
  task: Task;
  encoder: EncoderKind;
  vocabSize: number;
  classes: number;
  /** Train the word embeddings (false: keep them frozen, e.g. pretrained GloVe). */
  trainEmbeddings: boolean;
  /** The trees SPINN composes along: the data's parses ("gold") or a fixed shape. */
  transitions: TransitionMode;
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
  transitionLoss: Tensor | null;
  /**
   * Per example (batch), for encoders that predict transitions: the log-probability of the trees
   * followed under the tracker's policy (premise and hypothesis together) and the policy's
   * entropy, summed over the steps with a real choice. What REINFORCE trains the policy with.
   */
  logProb: Tensor | null;
  entropy: Tensor | null;
  trees: Uint8Array[] | null;
}

export class Model {
  readonly store: ParameterStore;
  readonly leaves: LeafEmbedder;
  readonly encoder: SentenceEncoder;
  readonly head: Mlp;

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
    if (!config.trainEmbeddings) this.store.freeze("embed.weight");
  }

  /** Encodes sentences (N × encoder size). */
  encode(batch: SentenceBatch, training: boolean): Tensor {
    return this.encoder.encode(this.leaves.forward(batch, training), batch);
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
   * transitions come from (e.g. RL-SPINN's greedy parse for a self-critical baseline).
   */
  run(
    batch: NliBatch | ClassificationBatch,
    training: boolean,
    source: TransitionSource = this.transitionSource(training),
  ): ModelPass {
    // Premise and hypothesis go through the encoder together, in one pass.
    const sentences =
      "sentence" in batch ? batch.sentence : stackSentenceBatches(batch.premise, batch.hypothesis);
    const leaves = this.leaves.forward(sentences, training);
    let encoding: Tensor;
    let transitionLoss: Tensor | null = null;
    let logProb: Tensor | null = null;
    let entropy: Tensor | null = null;
    let trees: Uint8Array[] | null = null;
    const n = "sentence" in batch ? batch.sentence.size : batch.premise.size;
    // Sums the per-sentence terms of a pair's two sentences.
    const perExample = (t: Tensor | null) =>
      t && !("sentence" in batch) ? t.narrow(0, 0, n).add(t.narrow(0, n, n)) : t;
    if (this.encoder instanceof SpinnEncoder) {
      const pass = this.encoder.run(leaves, sentences, source);
      encoding = pass.encoding;
      transitionLoss = pass.transitionLoss;
      logProb = perExample(pass.logProb);
      entropy = perExample(pass.entropy);
      trees = Array.from(sentences.lengths, (n, i) =>
        pass.transitions.slice(i * pass.steps, i * pass.steps + 2 * n - 1),
      );
    } else {
      encoding = this.encoder.encode(leaves, sentences);
    }
    const features =
      "sentence" in batch ? encoding : pairFeatures(encoding.narrow(0, 0, n), encoding.narrow(0, n, n));
    return { logits: this.head.forward(features, training), transitionLoss, logProb, entropy, trees };
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
      return new SpinnEncoder(path, { dHidden: c.dHidden, dTracker: c.dTracker, predictTransitions: true });
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
  for (const key of ["embedDropout", "mlpDropout"] as const) {
    if (!(c[key] >= 0 && c[key] < 1)) throw new Error(`model config: ${key} must be in [0, 1)`);
  }
}

/** One batch holding the sentences of a, then those of b (re-padded to the wider of the two). */
export function stackSentenceBatches(a: SentenceBatch, b: SentenceBatch): SentenceBatch {
  const size = a.size + b.size;
  const width = Math.max(a.width, b.width);
  const steps = Math.max(a.steps, b.steps);
  const ids = new Int32Array(size * width);
  const lengths = new Int32Array(size);
  const hasTrees = a.transitions !== null && b.transitions !== null;
  const transitions = hasTrees ? new Uint8Array(size * steps).fill(SKIP) : null;
  let row = 0;
  for (const part of [a, b]) {
    for (let i = 0; i < part.size; i++, row++) {
      ids.set(part.ids.subarray(i * part.width, (i + 1) * part.width), row * width);
      lengths[row] = part.lengths[i]!;
      if (transitions && part.transitions) {
        transitions.set(part.transitions.subarray(i * part.steps, (i + 1) * part.steps), row * steps);
      }
    }
  }
  return { size, width, ids, lengths, steps, transitions };
}
