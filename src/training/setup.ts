// A run's setup: its training and dev data (with the trees the model composes along), the
// vocabulary, pretrained embeddings, and the model: built fresh, or loaded from the checkpoint a
// resumed run continues from.
import { exampleLength, limitLength } from "../data/batching.js";
import { loadEmbeddings } from "../data/embeddings.js";
import { DataError, FormatError } from "../data/errors.js";
import { listOpsSubtreeValues } from "../data/listops.js";
import { Vocabulary } from "../data/vocabulary.js";
import { scope, tensor } from "../engine/index.js";
import { defaultConfig, Model, type ModelConfig } from "../models/model.js";
import { loadModelDir } from "../models/model-dir.js";
import { parserConfig } from "../models/parser.js";
import { sizesOf } from "../models/sizes.js";
import {
  dataWithTrees,
  lengthKeys,
  readTaskData,
  requireLabelled,
  requireTrees,
  sentencesOfData,
  skippedReport,
  type TaskData,
} from "../tasks/task.js";
import type { TrainOptions } from "./options.js";

export interface RunSetup {
  trainData: TaskData;
  devData: TaskData;
  vocab: Vocabulary;
  model: Model;
  /** The options as the run uses them (dEmbed follows the pretrained vectors). */
  options: TrainOptions;
  embeddings?: { found: number; coverage: number; missing: string[] };
}

type Log = (message: string) => void;

/** Reads the data and builds (or, with `checkpointDir`, loads) the vocabulary and the model. */
export async function setUpRun(o: TrainOptions, checkpointDir: string | null, log: Log): Promise<RunSetup> {
  // Lenient: examples without the trees the model needs are skipped one by one (and counted);
  // strict: the first one is an error, below.
  const lenientTrees = (data: TaskData, training: boolean) =>
    o.lenient ? requireTrees(data, o.model, training, true) : data;
  const trainData = withSubtreeValues(lenientTrees(await readTrainingData(o.train, o, log), true), o);
  const devData = lenientTrees(await readTrainingData(o.dev, o, log), false);
  for (const data of [trainData, devData]) for (const line of skippedReport(data, o.model)) log(line);
  if (trainData.examples.length === 0) throw new DataError(o.train, 0, undefined, "no training examples");
  requireCurriculumExamples(trainData, o);
  // Checked before anything is written: an empty dev set would report 0% as the "best" model.
  requireLabelled(
    devData,
    "to evaluate on (--dev)",
    o.maxLength ? `any longer than --max-length ${o.maxLength}` : "",
  );
  requireTrees(trainData, o.model, true);
  requireTrees(devData, o.model, false);
  if (checkpointDir) {
    const { model, vocab } = loadModelDir(checkpointDir, o.device, o.dtype);
    return { trainData, devData, vocab, model, options: o };
  }
  return { trainData, devData, ...(await buildModel(trainData, o, log)) };
}

/** --subtree-weight: every ListOps training example with the values of its sub-lists. */
function withSubtreeValues(data: TaskData, o: TrainOptions): TaskData {
  if (!(o.subtreeWeight > 0)) return data;
  const examples = data.examples.map((ex) => {
    if (!("sentence" in ex)) throw new Error("--subtree-weight applies to ListOps");
    try {
      return { ...ex, subtrees: listOpsSubtreeValues(ex.sentence) };
    } catch (err) {
      if (err instanceof FormatError)
        throw new DataError(ex.source.file, ex.source.line, "expression", err.message);
      throw err;
    }
  });
  return { ...data, examples };
}

/** Every epoch of a curriculum needs an example short enough for it (else it would have no batch). */
function requireCurriculumExamples(data: TaskData, o: TrainOptions): void {
  if (!o.curriculum?.length) return;
  const shortest = Math.min(...o.curriculum);
  const keys = lengthKeys(data);
  if (!data.examples.some((_, i) => exampleLength(keys, i) <= shortest)) {
    throw new DataError(
      o.train,
      0,
      undefined,
      `no training example of at most ${shortest} tokens (--curriculum)`,
    );
  }
}

async function readTrainingData(file: string, o: TrainOptions, log: Log): Promise<TaskData> {
  const data = await readTaskData(file, o.task, o.lenient);
  return dataWithTrees(limit(data, o.maxLength, log), o.transitions);
}

/** The data without sentences longer than `maxLength` (0: all): NLI's cropped, ListOps' skipped. */
function limit(data: TaskData, maxLength: number, log: Log): TaskData {
  if (!maxLength) return data;
  const mode = data.task === "listops" ? "skip" : "crop";
  const r = limitLength(data.examples, maxLength, mode);
  if (r.cropped || r.skipped) {
    const what = mode === "skip" ? `skipped ${r.skipped}` : `cropped ${r.cropped}`;
    log(`${data.file}: ${what} examples longer than ${maxLength} tokens`);
  }
  return { ...data, examples: r.examples };
}

/** A fresh vocabulary from the training data, the pretrained vectors if any, and a new model. */
async function buildModel(
  trainData: TaskData,
  o: TrainOptions,
  log: Log,
): Promise<Omit<RunSetup, "trainData" | "devData">> {
  const vocab = Vocabulary.build(sentencesOfData(trainData), {
    minCount: o.minCount,
    lowercase: o.lowercase,
  });
  const cacheDir = o.embeddingsCache ? { cacheDir: o.embeddingsCache } : {};
  const emb = o.embeddings ? await loadEmbeddings(o.embeddings, vocab, { seed: o.seed, ...cacheDir }) : null;
  const options = emb ? { ...o, dEmbed: emb.dim } : o;
  const config: ModelConfig = {
    ...defaultConfig(o.task, o.model, vocab.size),
    ...sizesOf(options),
    trainEmbeddings: o.trainEmbeddings ?? !emb,
    transitions: o.transitions,
    ...(o.model === "rl-spinn" && o.baseline === "learned" ? { valueHead: true } : {}),
    ...parserConfig(o.parser, { ...options, parserHidden: o.parserHidden }),
    ...(o.composerTracker ? { composerTracker: o.composerTracker } : {}),
  };
  const model = new Model(config, { device: o.device, dtype: o.dtype });
  if (!emb) return { vocab, model, options };
  scope(() => {
    const vectors = tensor(emb.matrix, { shape: [vocab.size, emb.dim] });
    model.leaves.embed.copy_(vectors);
    model.parser?.embed.copy_(vectors);
  });
  const tokens =
    emb.coverage.tokens === undefined ? "" : `, ${(100 * emb.coverage.tokens).toFixed(1)}% of tokens`;
  log(
    `embeddings: ${emb.found} of ${vocab.size - 2} words have vectors (${(100 * emb.coverage.types).toFixed(1)}% of types${tokens}); ` +
      `most frequent missing: ${emb.missing.slice(0, 8).join(" ")}`,
  );
  const embeddings = { found: emb.found, coverage: emb.coverage.types, missing: emb.missing.slice(0, 20) };
  return { vocab, model, options, embeddings };
}
