// What differs between tasks, in one place: reading a data set, its label names, and turning a
// batch plan into the arrays the model consumes.
import type { Batch, ClassificationBatch, NliBatch } from "../data/batching.js";
import { encodeListOpsBatch, encodeNliBatch, lengthsOf } from "../data/batching.js";
import { readDataset } from "../data/dataset.js";
import { DataError } from "../data/errors.js";
import { LISTOPS_NUM_CLASSES, type ListOpsExample } from "../data/listops.js";
import { NLI_LABELS, type NliExample } from "../data/nli.js";
import { branchingTransitions, type ParsedSentence } from "../data/transitions.js";
import type { Vocabulary } from "../data/vocabulary.js";
import { type EncoderKind, needsGivenTrees, type Task, type TransitionMode } from "../models/kinds.js";

export type Example = NliExample | ListOpsExample;

export interface TaskData {
  task: Task;
  file: string;
  examples: Example[];
  /**
   * Lines skipped: no gold label (NLI '-'), invalid lines (lenient mode) and (lenient mode)
   * examples without the parses their model needs.
   */
  skipped: { noGoldLabel: number; invalid: number; noParse?: number };
  /** Lenient reads: the errors of the first few invalid lines, in file order, to show why. */
  invalidLines?: DataError[];
}

export function labelNames(task: Task): string[] {
  return task === "nli" ? [...NLI_LABELS] : Array.from({ length: LISTOPS_NUM_CLASSES }, (_, i) => String(i));
}

/** Reads a data file for a task; a file of the other task is a clear error. */
export async function readTaskData(file: string, task: Task, lenient = false): Promise<TaskData> {
  const dataset = await readDataset(file, { lenient });
  if (dataset.task !== task) {
    const kind = dataset.task === "nli" ? "NLI" : "ListOps";
    throw new DataError(file, 0, undefined, `this is ${kind} data but the task is ${task}`);
  }
  const r = dataset.result;
  return {
    task,
    file,
    examples: r.examples,
    skipped: { noGoldLabel: "noGoldLabel" in r ? r.noGoldLabel : 0, invalid: r.invalid.count },
    invalidLines: r.invalid.errors,
  };
}

/**
 * An error unless the data has at least one labelled example: an evaluation over none would
 * report 0% (and a training run would keep that as its "best"). `use` says what the file is for,
 * e.g. "to evaluate on"; the skipped lines are counted so the user sees why.
 */
export function requireLabelled(data: TaskData, use: string, note = ""): void {
  if (data.examples.length > 0) return;
  const { noGoldLabel, invalid, noParse = 0 } = data.skipped;
  const why = [
    noGoldLabel > 0 ? `${noGoldLabel} without a gold label ("-")` : "",
    invalid > 0 ? `${invalid} invalid` : "",
    noParse > 0 ? `${noParse} without the parses the model needs` : "",
    note,
  ].filter(Boolean);
  const detail = why.length > 0 ? ` (skipped: ${why.join(", ")})` : "";
  throw new DataError(data.file, 0, undefined, `no labelled example ${use}${detail}`);
}

/** A sentence with the given transition mode's tree (its own parse for "gold"). */
function withTree(s: ParsedSentence, mode: TransitionMode): ParsedSentence {
  return mode === "gold" ? s : { tokens: s.tokens, transitions: branchingTransitions(s.tokens.length, mode) };
}

/** The example with the mode's trees in place of its parses (unchanged for "gold"). */
export function exampleWithTrees(ex: Example, mode: TransitionMode): Example {
  if (mode === "gold") return ex;
  return "sentence" in ex
    ? { ...ex, sentence: withTree(ex.sentence, mode) }
    : { ...ex, premise: withTree(ex.premise, mode), hypothesis: withTree(ex.hypothesis, mode) };
}

/** The data with the mode's trees in place of its parses (the same object for "gold"). */
export function dataWithTrees(data: TaskData, mode: TransitionMode): TaskData {
  return mode === "gold"
    ? data
    : { ...data, examples: data.examples.map((ex) => exampleWithTrees(ex, mode)) };
}

/** An example's sentences by role: the sentence (ListOps), or the premise and the hypothesis. */
export function sidesOf(ex: Example): [role: string, sentence: ParsedSentence][] {
  return "sentence" in ex
    ? [["sentence", ex.sentence]]
    : [
        ["premise", ex.premise],
        ["hypothesis", ex.hypothesis],
      ];
}

/**
 * When the encoder needs given trees (needsGivenTrees), every sentence needs its parse: the first
 * one without is a DataError at its file:line. `advice(role)` is added to the message.
 */
export function requireTree(
  ex: Example,
  encoder: EncoderKind,
  training: boolean,
  advice: (role: string) => string = () => "",
): void {
  if (!needsGivenTrees(encoder, training)) return;
  for (const [role, s] of sidesOf(ex)) {
    if (!s.transitions) {
      throw new DataError(
        ex.source.file,
        ex.source.line,
        role,
        `no parse, and ${encoder} composes along given trees${advice(role)}`,
      );
    }
  }
}

/** What one input line of a task looks like (predict's JSON lines), for error messages. */
export function lineAdvice(task: Task): string {
  return task === "nli"
    ? 'expected one JSON object per line, e.g. {"premise": "A man plays.", "hypothesis": "A person plays."}'
    : 'expected one JSON object per line, e.g. {"sentence": "[MAX 2 9 [MIN 4 7 ] 0 ]"}';
}

/** What a ListOps expression looks like, for errors in one. */
export const LISTOPS_ADVICE =
  'a ListOps expression is operators [MAX [MIN [MED [SM with values 0-9, each list closed by "]", ' +
  'e.g. "[MAX 2 9 [MIN 4 7 ] 0 ]" (or bracketed: "( ( ( [MAX 2 ) 9 ) ] )")';

/**
 * requireTree's advice for a task: what to add so that an example has its trees, for a line of
 * `spinn predict` input ("input") or of a data file ("data").
 */
export function treeAdvice(task: Task, source: "input" | "data"): (role: string) => string {
  const fixed = "a model trained with --transitions left, right or balanced, which needs no parses";
  if (task === "listops") {
    return () => ': give the expression as flat prefix tokens ("[MAX 2 9 ]") or fully bracketed';
  }
  if (source === "input") {
    return (role) =>
      `: add "${role}_parse" in binary-parse notation, e.g. "( ( A man ) ( is ( playing ( a guitar ) ) ) )" (or use ${fixed})`;
  }
  return (role) =>
    `: the data needs "${role === "premise" ? "sentence1" : "sentence2"}_binary_parse" ` +
    `(use --lenient to skip such examples, a full SPINN model, which parses, or ${fixed})`;
}

/**
 * requireTree for every example. Lenient: the examples without their trees are left out one by
 * one and counted (skipped.noParse) instead, and the data without them is returned.
 */
export function requireTrees(
  data: TaskData,
  encoder: EncoderKind,
  training: boolean,
  lenient = false,
): TaskData {
  const advice = treeAdvice(data.task, "data");
  if (!lenient) {
    for (const ex of data.examples) requireTree(ex, encoder, training, advice);
    return data;
  }
  const examples = data.examples.filter((ex) => {
    try {
      requireTree(ex, encoder, training, advice);
      return true;
    } catch (err) {
      if (err instanceof DataError) return false;
      throw err;
    }
  });
  const noParse = data.examples.length - examples.length;
  if (noParse === 0) return data;
  return { ...data, examples, skipped: { ...data.skipped, noParse: (data.skipped.noParse ?? 0) + noParse } };
}

/** How many reasons for skipped lines a report shows (its count covers them all). */
const SHOWN_REASONS = 5;

/**
 * What a lenient read skipped, as lines for people (train's log, eval's report): how many
 * invalid lines with the first few reasons, and how many examples lacked the parses `encoder`
 * needs. Nothing when nothing was skipped.
 */
export function skippedReport(data: TaskData, encoder: EncoderKind): string[] {
  const { invalid, noParse = 0 } = data.skipped;
  const lines: string[] = [];
  if (invalid > 0) {
    lines.push(`${data.file}: skipped ${invalid} invalid line${invalid === 1 ? "" : "s"} (--lenient):`);
    const shown = (data.invalidLines ?? []).slice(0, SHOWN_REASONS);
    for (const err of shown) lines.push(`  ${err.message}`);
    if (invalid > shown.length) lines.push(`  ... and ${invalid - shown.length} more`);
  }
  if (noParse > 0) {
    const what = noParse === 1 ? "example" : "examples";
    lines.push(
      `${data.file}: skipped ${noParse} ${what} without the parses ${encoder} composes along (--lenient)`,
    );
  }
  return lines;
}

/** A batch as the model consumes it: sentence pairs (NLI) or single sentences (ListOps). */
export type TaskBatch = NliBatch | ClassificationBatch;

export function batchFor(data: TaskData, batch: Batch, vocab: Vocabulary): TaskBatch {
  return data.task === "nli"
    ? encodeNliBatch(data.examples as NliExample[], batch, vocab)
    : encodeListOpsBatch(data.examples as ListOpsExample[], batch, vocab);
}

/** Every sentence's tokens (both sides of NLI pairs), e.g. to build a vocabulary. */
export function* sentencesOfData(data: TaskData): Generator<string[]> {
  for (const ex of data.examples) for (const [, s] of sidesOf(ex)) yield s.tokens;
}

export function lengthKeys(data: TaskData) {
  return lengthsOf(data.examples);
}
