// `spinn eval`: accuracy, per-class precision/recall/F1 and the confusion matrix of a saved model
// on a data file; --report writes one JSON line per example (--report -: to stdout, the summary
// to stderr).
import type { Command } from "commander";
import { DEFAULT_EVAL_BATCH_TOKENS } from "../../data/batching.js";
import type { Device } from "../../engine/dtype.js";
import { UserError } from "../errors.js";
import {
  addModelOptions,
  fileOption,
  intOption,
  type ModelFlags,
  modelDirFlag,
  modelDirOrNameOption,
} from "../flags.js";
import { snakeKeys, writeJsonLine } from "../json-output.js";
import { terminalHint } from "../line-batches.js";

interface EvalFlags extends ModelFlags {
  data: string;
  report?: string;
  batchTokens: number;
  lenient?: boolean;
  json?: boolean;
  agreeWith?: string;
}

async function runEval(f: EvalFlags): Promise<void> {
  const { device, batchSize, data } = f;
  if (f.report === "-" && f.json)
    throw new UserError("--report - and --json both write to stdout: give --report a file");
  // With the per-example report on stdout, the human-readable summary goes to stderr.
  const out = f.report === "-" ? process.stderr : process.stdout;
  // 0: no token budget (batches of --batch-size examples whatever their length).
  const batchTokens = f.batchTokens === 0 ? null : f.batchTokens;
  const hint = terminalHint(data, process.stdin.isTTY, "data lines", "--data");
  if (hint) process.stderr.write(hint);
  const { loadModelDir } = await import("../../models/model-dir.js");
  const { evaluate, withUsedTrees } = await import("../../inference/evaluate.js");
  const { dataWithTrees, readTaskData, requireLabelled, requireTrees, skippedReport } = await import(
    "../../tasks/task.js"
  );
  const { composesTrees, treeSource } = await import("../../models/kinds.js");
  const { breakdown } = await import("../../inference/breakdown.js");
  const { treeReport } = await import("../../inference/report.js");
  const loaded = loadModelDir(modelDirFlag(f), device);
  try {
    const task = loaded.model.config.task;
    const lenient = Boolean(f.lenient);
    const read = await readTaskData(data, task, lenient);
    requireLabelled(read, "to evaluate on");
    const mode = loaded.model.config.transitions;
    const withTrees = dataWithTrees(read, mode);
    // Lenient: examples without the trees the model needs are skipped one by one (and counted).
    const taskData = requireTrees(withTrees, loaded.model.config.encoder, false, lenient);
    requireLabelled(taskData, "to evaluate on");
    // The examples as read that are evaluated (the same order), for the tree reports.
    const keptSet = new Set(taskData.examples);
    const given =
      taskData === withTrees
        ? read
        : { ...read, examples: read.examples.filter((_, i) => keptSet.has(withTrees.examples[i]!)) };
    const { predictions, report } = evaluate(loaded.model, taskData, loaded.vocab, batchSize, batchTokens);
    const used = withUsedTrees(taskData, predictions);
    const trees = composesTrees(loaded.model.config.encoder) ? treeReport(given, used) : null;
    // Self-agreement: how alike the trees of two runs are on the same sentences.
    const agreement = f.agreeWith
      ? await agreementWith(f.agreeWith, device, given, used, trees !== null, batchSize, batchTokens)
      : null;
    if (f.report) await writeEvalReport(f.report, taskData, predictions, used);
    const source = treeSource(loaded.model.config.encoder, mode);
    // The trees' F1 by bin, except for the given trees (100% by construction).
    const byLength = breakdown(given, trees && source !== "given" ? used : null, predictions.predicted);
    const summary = {
      model: loaded.dir,
      data,
      examples: report.examples,
      accuracy: report.accuracy,
      macro_f1: report.macroF1,
      per_class: report.perClass,
      confusion: report.confusion,
      labels: report.labels,
      skipped: taskData.skipped,
      tree_source: source,
      trees,
      by_length: byLength.byLength,
      ...(byLength.byDepth ? { by_depth: byLength.byDepth } : {}),
      ...(byLength.byOperator ? { by_operator: byLength.byOperator } : {}),
      ...(agreement ? { agreement } : {}),
      ...(f.report ? { report: f.report } : {}),
    };
    if (f.json) writeJsonLine(summary);
    else {
      const skipped = skippedReport(taskData, loaded.model.config.encoder);
      await writeEvalText(out, skipped, summary, report, byLength);
    }
  } finally {
    loaded.model.dispose();
  }
}

type TaskData = import("../../tasks/task.js").TaskData;

/**
 * --agree-with (a model directory, a training run or a shipped model's, resolved by the flag's
 * parser): the F1 between this model's trees (`used`) and the other model's on the same sentences.
 */
async function agreementWith(
  dir: string,
  device: Device,
  given: TaskData,
  used: TaskData,
  hasTrees: boolean,
  batchSize: number,
  batchTokens: number | null,
): Promise<{ model: string; f1: number | null; sentences: number }> {
  const { loadModelDir } = await import("../../models/model-dir.js");
  const { evaluate, withUsedTrees } = await import("../../inference/evaluate.js");
  const { dataWithTrees, requireTrees } = await import("../../tasks/task.js");
  const { composesTrees } = await import("../../models/kinds.js");
  const { treeAgreement } = await import("../../inference/report.js");
  const other = loadModelDir(dir, device);
  try {
    if (!composesTrees(other.model.config.encoder) || !hasTrees) {
      throw new UserError("--agree-with compares the trees of two SPINN models; one of these has none");
    }
    const otherData = requireTrees(
      dataWithTrees(given, other.model.config.transitions),
      other.model.config.encoder,
      false,
    );
    const p = evaluate(other.model, otherData, other.vocab, batchSize, batchTokens).predictions;
    return { model: other.dir, ...treeAgreement(used, withUsedTrees(otherData, p)) };
  } finally {
    other.model.dispose();
  }
}
type EvalSummary = {
  tree_source: import("../../models/kinds.js").TreeSource;
  trees: import("../../inference/report.js").TreeReport | null;
  agreement?: { model: string; f1: number | null; sentences: number };
};

/** The summary for terminals: the classification report, the trees, the breakdown by length and depth. */
async function writeEvalText(
  out: NodeJS.WritableStream,
  skipped: string[],
  s: EvalSummary,
  report: import("../../inference/metrics.js").ClassificationReport,
  byLength: import("../../inference/breakdown.js").Breakdown,
): Promise<void> {
  const { formatReport } = await import("../../inference/metrics.js");
  const { formatTreeReport } = await import("../../inference/report.js");
  const { formatBreakdown } = await import("../../inference/breakdown.js");
  out.write(`${formatReport(report)}\n`);
  // What --lenient skipped: invalid lines (with the first reasons) and examples without parses.
  for (const line of skipped) out.write(`${line}\n`);
  if (s.trees) out.write(`\n${formatTreeReport(s.trees, s.tree_source)}\n`);
  out.write(`\n${formatBreakdown(byLength)}\n`);
  if (s.agreement) {
    const f1 = s.agreement.f1 === null ? "n/a" : `${(100 * s.agreement.f1).toFixed(1)}%`;
    out.write(
      `agreement with ${s.agreement.model}: unlabeled F1 between the two models' trees ${f1} over ${s.agreement.sentences} sentences\n`,
    );
  }
}
type Predictions = import("../../inference/evaluate.js").Predictions;

/** --report: one JSON line per example (id, gold, predicted, probabilities, the trees used). */
async function writeEvalReport(file: string, taskData: TaskData, predictions: Predictions, used: TaskData) {
  const { labelNames } = await import("../../tasks/task.js");
  const { probabilitiesOf, treesOf } = await import("../../inference/report.js");
  const { writeFileAtomic } = await import("../../util/atomic-write.js");
  const labels = labelNames(taskData.task);
  const lines = taskData.examples.map((ex, i) =>
    JSON.stringify(
      snakeKeys({
        id: ex.id,
        gold: labels[ex.label],
        predicted: labels[predictions.predicted[i]!],
        probabilities: probabilitiesOf(predictions, i, labels),
        trees: treesOf(used.examples[i]!),
      }),
    ),
  );
  const text = lines.map((l) => `${l}\n`).join("");
  if (file === "-") process.stdout.write(text);
  else writeFileAtomic(file, text);
}

export function registerEvalCommand(program: Command): void {
  addModelOptions(program.command("eval"))
    .description("Evaluate a saved model: accuracy, per-class precision/recall/F1, confusion matrix.")
    .addOption(
      fileOption("--data <file>", "data file of the model's task (- for stdin)", {
        stdin: true,
        required: true,
      }),
    )
    .option(
      "--report <file>",
      "write one JSON line per example: id, gold, predicted, probabilities, trees (- for stdout; the summary then goes to stderr)",
    )
    .addOption(
      intOption(
        "--batch-tokens <n>",
        "at most n sentences × transitions per batch, so long examples make smaller batches (0: no budget)",
        { min: 0, default: DEFAULT_EVAL_BATCH_TOKENS },
      ),
    )
    .option("--lenient", "skip invalid data lines (reported) instead of stopping")
    .addOption(
      modelDirOrNameOption(
        "--agree-with <dir-or-name>",
        "another SPINN model (a model directory, a training run or a shipped model's name): report the F1 between its trees and this one's",
      ),
    )
    .option("--json", "print only a JSON summary line")
    .addHelpText(
      "after",
      "\nExamples:\n  spinn eval --model-dir runs/lo --data test.tsv\n  spinn listops generate --count 100 --seed 9 --out - | spinn eval --model listops-pi --data -\n  spinn eval --model-dir runs/snli/best --data dev.jsonl --report dev-report.jsonl --json",
    )
    .action(runEval);
}
