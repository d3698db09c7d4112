// `spinn parse`: raw sentences in (one per line, stdin or --input), their trees out, as the
// model's tracker parses them (full SPINN or RL-SPINN).
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

interface ParseFlags extends LineInputFlags {
  pretty?: boolean;
  json?: boolean;
  lenient?: boolean;
}

async function runParse(f: ParseFlags): Promise<void> {
  const { device, batchSize, input } = f;
  const limits = { maxTokens: f.maxTokens, maxLineBytes: f.maxLineBytes };
  const { loadModelDir } = await import("../../models/model-dir.js");
  const { releaseFreeMemory } = await import("../../engine/index.js");
  const { parseSentences } = await import("../../inference/parse.js");
  const { parseListOpsExpression } = await import("../../data/listops.js");
  const { tokenize } = await import("../../data/tokenizer.js");
  const { DataError, FormatError } = await import("../../data/errors.js");
  const { bracketed, drawTree } = await import("../../data/tree-format.js");
  const { checkSentenceLength } = await import("../../inference/input-limits.js");
  const { LISTOPS_ADVICE } = await import("../../tasks/task.js");
  type ParsedSentence = import("../../data/transitions.js").ParsedSentence;

  const { model, vocab } = loadModelDir(modelDirFlag(f), device);
  const file = input;
  const sentenceOf = (text: string, line: number): ParsedSentence => {
    const s = sentenceOfText(text, line);
    checkSentenceLength(s, limits, { file, line });
    return s;
  };
  const sentenceOfText = (text: string, line: number): ParsedSentence => {
    if (model.config.task === "listops") {
      try {
        // A bracketed expression is accepted too; its brackets are ignored.
        return { ...parseListOpsExpression(text), transitions: null };
      } catch (err) {
        if (err instanceof FormatError)
          throw new DataError(file, line, undefined, `${err.message} (${LISTOPS_ADVICE})`);
        throw err;
      }
    }
    return { tokens: tokenize(text), transitions: null };
  };
  let lines = 0;
  let skipped = 0;
  const flush = (entries: LineEntry<ParsedSentence>[]) => {
    lines += entries.length;
    const sentences = entries.flatMap((e) => ("item" in e ? [e.item] : []));
    const trees = sentences.length > 0 ? parseSentences(model, vocab, sentences, batchSize) : [];
    // The batch's freed tensors back to the OS (some kept for the next): RSS stays flat over a stream.
    releaseFreeMemory({ betweenBatches: true });
    let i = 0;
    for (const entry of entries) {
      if ("error" in entry) {
        skipped++;
        writeLineError(entry.error, Boolean(f.json));
        continue;
      }
      const s = sentences[i]!;
      const t = trees[i]!;
      i++;
      if (f.json) {
        writeJsonLine({ tokens: s.tokens, tree: bracketed(s.tokens, t) });
      } else if (f.pretty) {
        process.stdout.write(`${drawTree(s.tokens, t)}\n\n`);
      } else {
        process.stdout.write(`${bracketed(s.tokens, t)}\n`);
      }
    }
  };
  const hint = terminalHint(input, process.stdin.isTTY, "sentences");
  if (hint) process.stderr.write(hint);
  try {
    await forEachLineBatch(input, batchSize, sentenceOf, flush, limits, Boolean(f.lenient));
  } finally {
    model.dispose();
  }
  if (f.lenient) lenientSummary(skipped, lines);
}

export function registerParseCommand(program: Command): void {
  const command = addModelOptions(program.command("parse"), "sentences")
    .description("Parse raw sentences (one per line, stdin or --input) with a spinn or rl-spinn model.")
    .option("--pretty", "draw each tree as text")
    .option("--json", 'one JSON line per sentence: {"tokens": [...], "tree": "( ... )"}')
    .option(
      "--lenient",
      'a bad line is reported in its place (--json: {"line": N, "error": "..."}; otherwise a line on stderr) and the others are still parsed',
    );
  addLineInputOptions(command)
    .addHelpText(
      "after",
      `
Sentences are tokenized like the training data (PTB style for NLI; ListOps tokens split on spaces,
brackets "(" ")" ignored). Output: one bracketed tree per line, e.g. ( ( a man ) ( plays guitar ) ).

Examples:
  echo 'A man is playing a guitar.' | spinn parse --model-dir runs/snli-rl --pretty
  spinn parse --model-dir runs/lo-rl --input expressions.txt --json`,
    )
    .action(runParse);
}
