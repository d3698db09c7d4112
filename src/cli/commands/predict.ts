// `spinn predict`: JSON lines in (stdin or --input), JSON lines out: label, probabilities, trees.
// --pretty prints the same for people, with the trees drawn as text.
import type { Command } from "commander";
import { addLineInputOptions, addModelOptions, type LineInputFlags, modelDirFlag } from "../flags.js";
import { writeJsonLine } from "../json-output.js";
import {
  forEachLineBatch,
  type LineEntry,
  lenientSummary,
  terminalHint,
  writeLineError,
} from "../line-batches.js";

interface PredictFlags extends LineInputFlags {
  pretty?: boolean;
  lenient?: boolean;
}

async function runPredict(f: PredictFlags): Promise<void> {
  const { device, batchSize, input } = f;
  const limits = { maxTokens: f.maxTokens, maxLineBytes: f.maxLineBytes };
  const { loadModelDir } = await import("../../models/model-dir.js");
  const { releaseFreeMemory } = await import("../../engine/index.js");
  const { predict, withUsedTrees } = await import("../../inference/evaluate.js");
  const { exampleWithTrees, labelNames, LISTOPS_ADVICE, lineAdvice, requireTree, sidesOf, treeAdvice } =
    await import("../../tasks/task.js");
  const { DataError } = await import("../../data/errors.js");
  const { exampleFromLine } = await import("../../inference/predict-input.js");
  const { checkExampleLength } = await import("../../inference/input-limits.js");
  const { probabilitiesOf, treesOf } = await import("../../inference/report.js");
  const { drawTree } = await import("../../data/tree-format.js");
  type Example = import("../../tasks/task.js").Example;

  const loaded = loadModelDir(modelDirFlag(f), device);
  const { model, vocab } = loaded;
  const task = model.config.task;
  const labels = labelNames(task);
  const file = input;

  let lines = 0;
  let skipped = 0;
  const flush = (entries: LineEntry<Example>[]) => {
    lines += entries.length;
    const examples = entries.flatMap((e) => ("item" in e ? [e.item] : []));
    const data = { task, file, examples, skipped: { noGoldLabel: 0, invalid: 0 } };
    const p = examples.length > 0 ? predict(model, data, vocab, batchSize) : null;
    // The batch's freed tensors back to the OS (some kept for the next): RSS stays flat over a stream.
    releaseFreeMemory({ betweenBatches: true });
    // Show the trees the model composed along (its own, for full SPINN).
    const used = p ? withUsedTrees(data, p).examples : [];
    let i = 0;
    for (const entry of entries) {
      if ("error" in entry) {
        skipped++;
        writeLineError(entry.error, !f.pretty);
        continue;
      }
      const ex = used[i]!;
      const label = labels[p!.predicted[i]!]!;
      const probabilities = probabilitiesOf(p!, i, labels);
      i++;
      if (!f.pretty) {
        writeJsonLine({ id: ex.id, label, probabilities, trees: treesOf(ex) });
        continue;
      }
      const probs = Object.entries(probabilities)
        .map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`)
        .join(", ");
      const drawn = sidesOf(ex).map(
        ([name, s]) => `${name}:\n${s.transitions ? drawTree(s.tokens, s.transitions) : s.tokens.join(" ")}`,
      );
      process.stdout.write(`${ex.id}: ${label}  (${probs})\n${drawn.join("\n")}\n\n`);
    }
  };

  // Task-specific advice: what a line of this task looks like, what a ListOps expression is.
  const withAdvice = (err: unknown): unknown => {
    if (!(err instanceof DataError)) return err;
    const advice = /^(not valid JSON|expected a JSON object|missing ")/.test(err.detail)
      ? lineAdvice(task)
      : task === "listops" && err.field !== undefined
        ? LISTOPS_ADVICE
        : null;
    return advice ? new DataError(err.file, err.line, err.field, `${err.detail} (${advice})`) : err;
  };
  const advice = treeAdvice(task, "input");
  const exampleOf = (line: string, lineNo: number): Example => {
    let given: Example;
    try {
      given = exampleFromLine(line, task, file, lineNo);
    } catch (err) {
      throw withAdvice(err);
    }
    checkExampleLength(given, limits, { file, line: lineNo });
    const ex = exampleWithTrees(given, model.config.transitions);
    requireTree(ex, model.config.encoder, false, advice);
    return ex;
  };
  const hint = terminalHint(input, process.stdin.isTTY, "JSON lines");
  if (hint) process.stderr.write(hint);
  try {
    await forEachLineBatch(input, batchSize, exampleOf, flush, limits, Boolean(f.lenient));
  } finally {
    model.dispose();
  }
  if (f.lenient) lenientSummary(skipped, lines);
}

export function registerPredictCommand(program: Command): void {
  const command = addModelOptions(program.command("predict"), "lines")
    .description("Predict labels for JSON lines read from stdin (or --input); writes JSON lines.")
    .option("--pretty", "human-readable output with the trees drawn as text")
    .option(
      "--lenient",
      'a bad line is answered in its place with {"line": N, "error": "..."} (--pretty: a line on stderr) and the others still are',
    );
  addLineInputOptions(command)
    .addHelpText(
      "after",
      `
Input lines (JSON): NLI {"premise": "...", "hypothesis": "..."} with optional "premise_parse" and
"hypothesis_parse" (binary-parse notation; SNLI's sentence1/sentence2 and *_binary_parse work too);
ListOps {"sentence": "( ( ( [MAX 2 ) 9 ) ] )"}.

Examples:
  echo '{"sentence": "( ( ( [MAX 2 ) 9 ) ] )"}' | spinn predict --model-dir runs/demo --pretty
  spinn predict --model-dir runs/snli --input pairs.jsonl > predictions.jsonl`,
    )
    .action(runPredict);
}
