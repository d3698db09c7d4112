// Running a model over a data set without training: class probabilities and predictions in the
// data set's own order, and the classification report.
import { DEFAULT_EVAL_BATCH_TOKENS, evaluationBatches } from "../data/batching.js";
import type { Vocabulary } from "../data/vocabulary.js";
import { noGrad, scope } from "../engine/index.js";
import type { Model } from "../models/model.js";
import { batchFor, labelNames, lengthKeys, type TaskData } from "../tasks/task.js";
import { type ClassificationReport, classificationReport } from "./metrics.js";

export interface Predictions {
  /** Predicted class per example, in data order. */
  predicted: Int32Array;
  /** examples × classes probabilities, row-major, in data order. */
  probabilities: Float32Array;
  classes: number;
  /**
   * The trees a SPINN model composed along, per example in data order, one per sentence (the
   * sentence, or premise then hypothesis); null for models without trees.
   */
  trees: (Uint8Array[] | null)[];
}

/**
 * Batches hold at most `batchSize` examples and, unless `batchTokens` is null, at most that many
 * sentences × transitions (data/batching.ts, batchTokens()), so that memory follows the work
 * rather than the longest example. Results come back in data order whatever the batching.
 */
export function predict(
  model: Model,
  data: TaskData,
  vocab: Vocabulary,
  batchSize = 256,
  batchTokens: number | null = DEFAULT_EVAL_BATCH_TOKENS,
): Predictions {
  const n = data.examples.length;
  const classes = model.config.classes;
  const predicted = new Int32Array(n);
  const probabilities = new Float32Array(n * classes);
  const trees: (Uint8Array[] | null)[] = new Array(n).fill(null);
  noGrad(() => {
    for (const batch of evaluationBatches(lengthKeys(data), batchSize, batchTokens ?? undefined)) {
      // One host transfer per batch: the probabilities; the argmax is taken here.
      const { probs, used } = scope(() => {
        const pass = model.run(batchFor(data, batch, vocab), false);
        return { probs: pass.logits.softmax(1).toFloat32Array(), used: pass.trees };
      });
      const rows = batch.indices.length;
      batch.indices.forEach((ex, row) => {
        if (used) trees[ex] = data.task === "nli" ? [used[row]!, used[rows + row]!] : [used[row]!];
        const p = probs.subarray(row * classes, (row + 1) * classes);
        probabilities.set(p, ex * classes);
        let best = 0;
        for (let c = 1; c < classes; c++) if (p[c]! > p[best]!) best = c;
        predicted[ex] = best;
      });
    }
  });
  return { predicted, probabilities, classes, trees };
}

/** The data with each sentence's transitions replaced by the tree the model used. */
export function withUsedTrees(data: TaskData, p: Predictions): TaskData {
  const examples = data.examples.map((ex, i) => {
    const t = p.trees[i];
    if (!t) return ex;
    return "sentence" in ex
      ? { ...ex, sentence: { ...ex.sentence, transitions: t[0]! } }
      : {
          ...ex,
          premise: { ...ex.premise, transitions: t[0]! },
          hypothesis: { ...ex.hypothesis, transitions: t[1]! },
        };
  });
  return { ...data, examples };
}

export function evaluate(
  model: Model,
  data: TaskData,
  vocab: Vocabulary,
  batchSize = 256,
  batchTokens: number | null = DEFAULT_EVAL_BATCH_TOKENS,
) {
  const predictions = predict(model, data, vocab, batchSize, batchTokens);
  const gold = Int32Array.from(data.examples, (e) => e.label);
  const report: ClassificationReport = classificationReport(
    gold,
    predictions.predicted,
    labelNames(data.task),
  );
  return { predictions, report };
}
