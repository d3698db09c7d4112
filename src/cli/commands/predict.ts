// `spinn predict`: JSON lines in (stdin or --input), JSON lines out: label, probabilities, trees.
// --pretty prints the same for people, with the trees drawn as text.
import type { Command } from "commander";
import {
  addInputLimitOptions,
  addModelOptions,
  inputLimitFlags,
  type LineInputFlags,
  modelDirFlag,
  runFlags,
} from "../flags.js";
import { writeJsonLine } from "../json-output.js";
import { forEachLineBatch, inputFlag } from "../line-batches.js";

interface PredictFlags extends LineInputFlags {
  pretty?: boolean;
}

async function runPredict(f: PredictFlags): Promise<void> {
  const { device, batchSize } = runFlags(f);
  const input = inputFlag(f.input);
  const limits = inputLimitFlags(f);
  const { loadModelDir } = await import("../../models/model-dir.js");
  const { predict, withUsedTrees } = await import("../../inference/evaluate.js");
  const { exampleWithTrees, labelNames, requireTree, sidesOf } = await import("../../tasks/task.js");
  const { exampleFromLine } = await import("../../inference/predict-input.js");
  const { checkExampleLength } = await import("../../inference/input-limits.js");
  const { probabilitiesOf, treesOf } = await import("../../inference/report.js");
  const { drawTree } = await import("../../data/tree-format.js");
  type Example = import("../../tasks/task.js").Example;

  const loaded = loadModelDir(modelDirFlag(f), device);
  const { model, vocab } = loaded;
  const task = model.config.task;
  const labels = labelNames(task);
  const file = input ?? "<stdin>";

  const flush = (examples: Example[]) => {
    if (examples.length === 0) return;
    const data = { task, file, examples, skipped: { noGoldLabel: 0, invalid: 0 } };
    const p = predict(model, data, vocab, batchSize);
    // Show the trees the model composed along (its own, for full SPINN).
    withUsedTrees(data, p).examples.forEach((ex, i) => {
      const label = labels[p.predicted[i]!]!;
      const probabilities = probabilitiesOf(p, i, labels);
      if (!f.pretty) {
        writeJsonLine({ id: ex.id, label, probabilities, trees: treesOf(ex) });
        return;
      }
      const probs = Object.entries(probabilities)
        .map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`)
        .join(", ");
      const drawn = sidesOf(ex).map(
        ([name, s]) => `${name}:\n${s.transitions ? drawTree(s.tokens, s.transitions) : s.tokens.join(" ")}`,
      );
      process.stdout.write(`${ex.id}: ${label}  (${probs})\n${drawn.join("\n")}\n\n`);
    });
  };

  const exampleOf = (line: string, lineNo: number): Example => {
    const given = exampleFromLine(line, task, file, lineNo);
    checkExampleLength(given, limits, { file, line: lineNo });
    const ex = exampleWithTrees(given, model.config.transitions);
    requireTree(
      ex,
      model.config.encoder,
      false,
      (role) =>
        `: add "${role}_parse" in binary-parse notation, e.g. "( ( A man ) ( is ( playing ( a guitar ) ) ) )" ` +
        "(or use a model trained with --transitions left, right or balanced, which needs no parses)",
    );
    return ex;
  };
  try {
    await forEachLineBatch(input, batchSize, exampleOf, flush, limits);
  } finally {
    model.dispose();
  }
}

export function registerPredictCommand(program: Command): void {
  const command = addModelOptions(program.command("predict"), "lines")
    .description("Predict labels for JSON lines read from stdin (or --input); writes JSON lines.")
    .option("--input <file>", "read from this file instead of stdin (- for stdin)")
    .option("--pretty", "human-readable output with the trees drawn as text");
  addInputLimitOptions(command)
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
