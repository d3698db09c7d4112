// `spinn data stats` (what is in a data file) and `spinn listops generate` (make a ListOps set).
// Both print a human-readable report; with --json the report goes to stderr and stdout holds only
// one JSON summary line. `listops generate --out -` writes the data set to stdout (the report to stderr).
// Problems the user can cause (missing file, bad flag, bad data) become a UserError: one line,
// exit code 2.

import type { Command } from "commander";
import {
  DATASET_FORMATS,
  type Dataset,
  type DatasetFormat,
  readDataset,
  sentencesOf,
} from "../../data/dataset.js";
import { loadEmbeddings } from "../../data/embeddings.js";
import { listOpsDepth } from "../../data/listops.js";
import { generateListOps } from "../../data/listops-generate.js";
import { NLI_LABELS } from "../../data/nli.js";
import { formatLengths, labelCounts, summarizeLengths } from "../../data/stats.js";
import { Vocabulary } from "../../data/vocabulary.js";
import { writeFileAtomic } from "../../util/atomic-write.js";
import { UserError } from "../errors.js";
import { choiceOption, fileOption, intOption } from "../flags.js";
import { writeJsonLine } from "../json-output.js";
import { terminalHint } from "../line-batches.js";

/** `spinn data ...` and `spinn listops ...`. */
export function registerDataCommands(program: Command): void {
  const data = program.command("data").description("Inspect data files (NLI pairs, ListOps).");
  data
    .command("stats")
    .description(
      "Counts, label distribution, sentence length percentiles and parse errors of a data file; " +
        "with --embeddings, how much of its vocabulary the vectors cover.",
    )
    .addOption(
      fileOption(
        "--data <file>",
        "data file: NLI .jsonl / tab-separated .txt, or ListOps label<TAB>expression (- for stdin)",
        { stdin: true, required: true },
      ),
    )
    .addOption(choiceOption("--format <format>", "file format; detected when omitted", DATASET_FORMATS))
    .addOption(
      fileOption(
        "--embeddings <file>",
        "word vectors in GloVe/word2vec text format, to report vocabulary coverage",
      ),
    )
    .option(
      "--lowercase",
      "lowercase words when building the vocabulary (use with lowercased vectors such as GloVe 6B)",
    )
    .addOption(
      intOption("--min-count <n>", "keep vocabulary words seen at least n times", { min: 1, default: 1 }),
    )
    .option("--cache-dir <dir>", "cache the vectors found here in binary form, so the next load is fast")
    .option("--json", "print only a JSON summary line on stdout (the report goes to stderr)")
    .addHelpText(
      "after",
      "\nExamples:\n  spinn data stats --data snli_1.0_dev.jsonl\n" +
        "  spinn data stats --data snli_1.0_dev.jsonl --embeddings glove.6B.100d.txt --lowercase --json",
    )
    .action(async (opts: StatsOptions) => {
      await dataStats(opts);
    });
  registerListOpsGenerate(program);
}

/** `spinn listops generate`. */
function registerListOpsGenerate(program: Command): void {
  const listops = program.command("listops").description("ListOps data sets.");
  listops
    .command("generate")
    .description(
      "Generate a ListOps data set with the published settings (Nangia & Bowman 2018): MIN MAX MED SM, " +
        "values 0-9, operator probability 0.25, 2-5 arguments, maximum depth 20, unique examples. " +
        "With --count 100000 the lengths match the published test set; smaller sets are somewhat shorter, " +
        "because uniqueness rejects more short expressions in larger sets.",
    )
    .addOption(intOption("--count <n>", "number of examples", { min: 1, required: true }))
    .requiredOption(
      "--out <file>",
      "output file (label<TAB>expression per line), written atomically; - for stdout (the report goes to stderr)",
    )
    .addOption(intOption("--seed <s>", "random seed", { min: Number.MIN_SAFE_INTEGER, default: 0 }))
    .addOption(
      intOption("--min-length <n>", "shortest expression, in tokens without brackets", {
        min: 1,
        default: 2,
      }),
    )
    .addOption(
      intOption("--max-length <n>", "longest expression, in tokens without brackets (default: no limit)", {
        min: 1,
      }),
    )
    .addOption(
      intOption(
        "--max-depth <n>",
        "maximum depth of the generating recursion (operators nest at most n - 1 deep)",
        { min: 1, default: 20 },
      ),
    )
    .addOption(intOption("--max-args <n>", "most arguments per operator", { min: 2, default: 5 }))
    .addOption(
      intOption(
        "--max-draws <n>",
        "give up after n draws (default 100 × count + 10,000); a narrow length range in the long tail needs more (300 expressions of 501-1000 tokens took 359,019)",
        { min: 1 },
      ),
    )
    .option("--json", "print only a JSON summary line on stdout (the report goes to stderr)")
    .addHelpText(
      "after",
      "\nExamples:\n  spinn listops generate --count 100000 --seed 1 --out listops-train.tsv\n" +
        "  spinn listops generate --count 2000 --seed 2 --max-length 40 --out dev.tsv --json",
    )
    .action(async (opts: GenerateOptions) => {
      await listopsGenerate(opts);
    });
}

interface StatsOptions {
  data: string;
  format?: DatasetFormat;
  embeddings?: string;
  lowercase?: boolean;
  minCount: number;
  cacheDir?: string;
  json?: boolean;
}

interface GenerateOptions {
  count: number;
  out: string;
  seed: number;
  minLength: number;
  maxLength?: number;
  maxDepth: number;
  maxArgs: number;
  maxDraws?: number;
  json?: boolean;
}

/** Where the human-readable report goes: stdout, or stderr when stdout holds JSON or data. */
let reportStream: NodeJS.WritableStream = process.stdout;

function say(line: string): void {
  reportStream.write(`${line}\n`);
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "0%" : `${((100 * part) / whole).toFixed(1)}%`;
}

async function dataStats(opts: StatsOptions): Promise<void> {
  const started = performance.now();
  reportStream = opts.json ? process.stderr : process.stdout;
  const { format, minCount } = opts;
  const hint = terminalHint(opts.data, process.stdin.isTTY, "data lines", "--data");
  if (hint) process.stderr.write(hint);
  // Stats is a diagnostic: it reads leniently and reports the invalid lines instead of stopping.
  const dataset = await readDataset(opts.data, {
    ...(format ? { format } : {}),
    lenient: true,
    maxKeptErrors: 5,
  });
  const readSeconds = (performance.now() - started) / 1000;
  const summary: Record<string, unknown> = { command: "data stats", file: opts.data, format: dataset.format };

  say(`file: ${opts.data} (${dataset.format})`);
  describeDataset(dataset, summary);
  const invalid = dataset.result.invalid;
  say(`parse errors: ${invalid.count}${invalid.count > 0 ? " (lines skipped)" : ""}`);
  for (const e of invalid.errors) say(`  ${e.message}`);
  if (invalid.count > invalid.errors.length) say(`  ... and ${invalid.count - invalid.errors.length} more`);
  summary["parseErrors"] = { count: invalid.count, first: invalid.errors.map((e) => e.message) };
  say(`read in ${readSeconds.toFixed(2)} s`);
  summary["readSeconds"] = round(readSeconds, 3);

  if (opts.embeddings !== undefined) {
    const vocab = Vocabulary.build(sentencesOf(dataset), { lowercase: opts.lowercase ?? false, minCount });
    const t = performance.now();
    const emb = await loadEmbeddings(opts.embeddings, vocab, {
      ...(opts.cacheDir === undefined ? {} : { cacheDir: opts.cacheDir }),
    });
    const seconds = (performance.now() - t) / 1000;
    const words = vocab.size - 2;
    say(
      `vocabulary: ${words} words (${opts.lowercase ? "lowercased" : "cased"}, min count ${minCount}) + <pad>, <unk>`,
    );
    say(
      `embeddings: ${opts.embeddings}: ${emb.dim}-d, ${emb.rows} rows; ` +
        `vectors for ${emb.found} of ${words} word types (${percent(emb.found, words)})` +
        (emb.coverage.tokens === undefined ? "" : `, ${(100 * emb.coverage.tokens).toFixed(1)}% of tokens`),
    );
    if (emb.missing.length > 0) {
      const shown = emb.missing.slice(0, 15).map((w) => `${w} (${vocab.countOf(vocab.idOf(w))})`);
      say(`  most frequent without a vector: ${shown.join(", ")}${emb.missing.length > 15 ? ", ..." : ""}`);
    }
    say(`  loaded in ${seconds.toFixed(2)} s${emb.cache === "none" ? "" : ` (cache: ${emb.cache})`}`);
    summary["vocabulary"] = { words, size: vocab.size, lowercase: vocab.lowercase, minCount };
    summary["embeddings"] = {
      file: opts.embeddings,
      dim: emb.dim,
      rows: emb.rows,
      found: emb.found,
      coverage: {
        types: round(emb.coverage.types, 4),
        ...(emb.coverage.tokens === undefined ? {} : { tokens: round(emb.coverage.tokens, 4) }),
      },
      missing: emb.missing.length,
      mostFrequentMissing: emb.missing.slice(0, 20),
      cache: emb.cache,
      seconds: round(seconds, 3),
    };
  }
  if (opts.json) writeJsonLine(summary);
}

function describeDataset(dataset: Dataset, summary: Record<string, unknown>): void {
  if (dataset.task === "nli") {
    const r = dataset.result;
    say(
      `lines: ${r.lines}, pairs: ${r.examples.length}, skipped: ${r.noGoldLabel} without gold label ('-'), ` +
        `${r.invalid.count} invalid`,
    );
    const labels = labelCounts(
      r.examples.map((e) => e.label),
      NLI_LABELS,
    );
    say(`labels: ${formatCounts(labels, r.examples.length)}`);
    const premise = summarizeLengths(r.examples.map((e) => e.premise.tokens.length));
    const hypothesis = summarizeLengths(r.examples.map((e) => e.hypothesis.tokens.length));
    say(`premise length (tokens): ${formatLengths(premise)}`);
    say(`hypothesis length (tokens): ${formatLengths(hypothesis)}`);
    const unparsed = r.examples.filter(
      (e) => e.premise.transitions === null || e.hypothesis.transitions === null,
    );
    if (unparsed.length > 0) say(`pairs without a binary parse (tokenized from text): ${unparsed.length}`);
    const genres = new Map<string, number>();
    for (const e of r.examples)
      if (e.genre !== undefined) genres.set(e.genre, (genres.get(e.genre) ?? 0) + 1);
    if (genres.size > 0) say(`genres: ${formatCounts(Object.fromEntries(genres), r.examples.length)}`);
    Object.assign(summary, {
      task: "nli",
      lines: r.lines,
      examples: r.examples.length,
      skipped: { noGoldLabel: r.noGoldLabel, invalid: r.invalid.count },
      labels,
      lengths: { premise, hypothesis },
      withoutParse: unparsed.length,
      ...(genres.size > 0 ? { genres: Object.fromEntries(genres) } : {}),
    });
  } else {
    const r = dataset.result;
    say(`lines: ${r.lines}, examples: ${r.examples.length}, ${r.invalid.count} invalid`);
    const labels = labelCounts(
      r.examples.map((e) => e.label),
      ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    );
    say(`labels: ${formatCounts(labels, r.examples.length)}`);
    const lengths = summarizeLengths(r.examples.map((e) => e.sentence.tokens.length));
    const depths = summarizeLengths(r.examples.map((e) => listOpsDepth(e.sentence.tokens)));
    say(`length (tokens without brackets): ${formatLengths(lengths)}`);
    say(`operator depth: ${formatLengths(depths)}`);
    Object.assign(summary, {
      task: "listops",
      lines: r.lines,
      examples: r.examples.length,
      skipped: { invalid: r.invalid.count },
      labels,
      lengths: { sentence: lengths },
      depth: depths,
    });
  }
}

function formatCounts(counts: Record<string, number>, total: number): string {
  return Object.entries(counts)
    .map(([name, n]) => `${name} ${n} (${percent(n, total)})`)
    .join(", ");
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

async function listopsGenerate(opts: GenerateOptions): Promise<void> {
  const started = performance.now();
  const toStdout = opts.out === "-";
  if (toStdout && opts.json)
    throw new UserError("--out - and --json both write to stdout: give --out a file");
  reportStream = opts.json || toStdout ? process.stderr : process.stdout;
  const { count, seed, minLength, maxLength, maxDepth, maxArgs, maxDraws: maxAttempts } = opts;
  if (maxLength !== undefined && maxLength < minLength)
    throw new UserError(`--max-length ${maxLength} is below --min-length ${minLength}`);
  let generated: ReturnType<typeof generateListOps>;
  try {
    generated = generateListOps({
      count,
      seed,
      minLength,
      maxDepth,
      maxArgs,
      ...(maxLength === undefined ? {} : { maxLength }),
      ...(maxAttempts === undefined ? {} : { maxAttempts }),
    });
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const text = generated.lines.map((l) => `${l}\n`).join("");
  if (toStdout) process.stdout.write(text);
  else writeFileAtomic(opts.out, text);
  const seconds = (performance.now() - started) / 1000;
  const labels = labelCounts(generated.labels, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  const lengths = summarizeLengths(generated.lengths);
  const depths = summarizeLengths(generated.depths);
  say(
    `wrote ${count} examples to ${toStdout ? "stdout" : opts.out} (seed ${seed}) in ${seconds.toFixed(2)} s`,
  );
  say(`labels: ${formatCounts(labels, count)}`);
  say(`length (tokens without brackets): ${formatLengths(lengths)}`);
  say(`operator depth: ${formatLengths(depths)}`);
  say(
    `draws: ${generated.attempts} (${generated.duplicates} duplicates, ${generated.outOfRange} outside the length range)`,
  );
  if (opts.json) {
    writeJsonLine({
      command: "listops generate",
      out: opts.out,
      count,
      seed,
      settings: {
        minLength,
        maxLength: maxLength ?? null,
        maxDepth,
        maxArgs,
        minArgs: 2,
        operatorProbability: 0.25,
      },
      labels,
      lengths,
      depth: depths,
      attempts: generated.attempts,
      duplicates: generated.duplicates,
      outOfRange: generated.outOfRange,
      seconds: round(seconds, 3),
    });
  }
}
