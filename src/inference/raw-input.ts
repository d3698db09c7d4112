// The library's calls on raw input: classify sentence pairs, evaluate ListOps expressions, parse
// sentences, from plain strings, with typed results (label, probabilities by class name, trees).
// Errors name the item by its 1-based position, as `<input>:N: field: problem`.
import { DataError, FormatError } from "../data/errors.js";
import { parseListOpsExpression } from "../data/listops.js";
import { tokenize } from "../data/tokenizer.js";
import { type ParsedSentence, parseBinaryParse, unparsedSentence } from "../data/transitions.js";
import { bracketed } from "../data/tree-format.js";
import type { Task } from "../models/kinds.js";
import type { LoadedModel } from "../models/model-dir.js";
import {
  type Example,
  exampleWithTrees,
  labelNames,
  requireTree,
  sidesOf,
  type TaskData,
} from "../tasks/task.js";
import { predict } from "./evaluate.js";
import { checkSentenceLength, type InputLimits } from "./input-limits.js";
import { parseSentences } from "./parse.js";
import { probabilitiesByClass } from "./report.js";

const INPUT = "<input>";

/** A sentence pair; the binary parses are needed only by models that compose along given trees. */
export interface PairInput {
  premise: string;
  hypothesis: string;
  /** Binary parses in the SNLI bracket notation, e.g. "( ( A dog ) ( runs . ) )". */
  premiseParse?: string;
  hypothesisParse?: string;
}

export interface Prediction<Trees> {
  label: string;
  /** Probability of each class, by class name. */
  probabilities: Record<string, number>;
  /** The trees the model composed along, bracketed (null for models without trees). */
  trees: Trees;
}

export type PairPrediction = Prediction<{ premise: string | null; hypothesis: string | null }>;
export type ListOpsPrediction = Prediction<{ expression: string | null }>;

export interface ParsedText {
  tokens: string[];
  /** SHIFT (0) / REDUCE (1), 2·tokens − 1 of them. */
  transitions: Uint8Array;
  /** The tree in bracket notation. */
  tree: string;
}

export interface RawInputOptions {
  /** Items run through the model together (default 256). */
  batchSize?: number;
  /** Tokens per sentence (input-limits.ts); unchecked when not given. */
  limits?: InputLimits;
}

/** Entailment / neutral / contradiction for each pair, with probabilities and the trees used. */
export function classify(
  loaded: LoadedModel,
  pairs: readonly PairInput[],
  options: RawInputOptions = {},
): PairPrediction[] {
  return run(loaded, inputExamples(loaded, "classify", pairs, options.limits), options) as PairPrediction[];
}

/** The value (0–9) a ListOps model predicts for each expression (bracketed or flat prefix tokens). */
export function predictListOps(
  loaded: LoadedModel,
  expressions: readonly string[],
  options: RawInputOptions = {},
): ListOpsPrediction[] {
  const examples = inputExamples(loaded, "predictListOps", expressions, options.limits);
  return run(loaded, examples, options) as ListOpsPrediction[];
}

/**
 * The examples of raw input for `call` (classify: PairInput items; predictListOps: expressions),
 * each sentence read and checked, with the trees its model composes along when it takes given
 * ones. A bad item is a DataError naming its 1-based position.
 */
export function inputExamples(
  loaded: LoadedModel,
  call: "classify" | "predictListOps",
  items: readonly unknown[],
  limits?: InputLimits,
): Example[] {
  const task: Task = call === "classify" ? "nli" : "listops";
  requireTask(loaded, task, call);
  const { model } = loaded;
  const advice = (role: string) =>
    task === "nli" ? ` (give ${role}Parse, or use a model that parses)` : " (give it with its brackets)";
  return items.map((item, i): Example => {
    const source = { file: INPUT, line: i + 1 };
    const sentence = (text: string, parsed: string | undefined, field: string) =>
      sentenceOf(task, text, parsed, source.line, field, limits);
    let ex: Example;
    if (task === "nli") {
      const p = item as PairInput;
      const premise = sentence(p.premise, p.premiseParse, "premise");
      const hypothesis = sentence(p.hypothesis, p.hypothesisParse, "hypothesis");
      ex = { id: String(i), label: 0, premise, hypothesis, source };
    } else {
      ex = { id: String(i), label: 0, sentence: sentence(item as string, undefined, "expression"), source };
    }
    const withTrees = exampleWithTrees(ex, model.config.transitions);
    requireTree(withTrees, model.config.encoder, false, advice);
    return withTrees;
  });
}

/**
 * An example's answer as classify or predictListOps gives it: the label, the probability of each
 * class, and the trees its sentences were composed along (`used`: per sentence, the transitions;
 * null for models without trees).
 */
export function presentAnswer(
  loaded: LoadedModel,
  ex: Example,
  probabilities: ArrayLike<number>,
  used: Uint8Array[] | null,
): PairPrediction | ListOpsPrediction {
  const labels = labelNames(loaded.model.config.task);
  let best = 0;
  for (let c = 1; c < labels.length; c++) if (probabilities[c]! > probabilities[best]!) best = c;
  const trees = sidesOf(ex).map(([, sentence], k) => (used ? bracketed(sentence.tokens, used[k]!) : null));
  const answer = { label: labels[best]!, probabilities: probabilitiesByClass(probabilities, labels) };
  if ("sentence" in ex) return { ...answer, trees: { expression: trees[0] ?? null } };
  return { ...answer, trees: { premise: trees[0] ?? null, hypothesis: trees[1] ?? null } };
}

/**
 * The trees a model that predicts its own transitions (full SPINN, RL-SPINN) parses raw
 * sentences into: NLI sentences are tokenized as in training, ListOps expressions split on spaces
 * (their brackets, if any, are ignored).
 */
export function parse(
  loaded: LoadedModel,
  sentences: readonly string[],
  options: RawInputOptions = {},
): ParsedText[] {
  const task = loaded.model.config.task;
  const parsed = sentences.map((text, i) => ({
    ...sentenceOf(task, text, undefined, i + 1, "sentence", options.limits),
    transitions: null,
  }));
  const trees = parseSentences(loaded.model, loaded.vocab, parsed, options.batchSize);
  return parsed.map((s, i) => ({
    tokens: s.tokens,
    transitions: trees[i]!,
    tree: bracketed(s.tokens, trees[i]!),
  }));
}

function requireTask(loaded: LoadedModel, task: Task, call: string): void {
  if (loaded.model.config.task !== task) {
    throw new DataError(
      INPUT,
      0,
      undefined,
      `${call} needs a ${task} model; this one is for ${loaded.model.config.task}`,
    );
  }
}

/** One sentence from its raw text (or, given, its binary parse), within the limits when given. */
function sentenceOf(
  task: Task,
  text: string,
  parsed: string | undefined,
  line: number,
  field: string,
  limits?: InputLimits,
): ParsedSentence {
  const sentence = readSentence(task, text, parsed, line, field);
  if (limits) checkSentenceLength(sentence, limits, { file: INPUT, line }, field);
  return sentence;
}

function readSentence(
  task: Task,
  text: string,
  parsed: string | undefined,
  line: number,
  field: string,
): ParsedSentence {
  try {
    if (parsed !== undefined) return parseBinaryParse(parsed);
    if (typeof text !== "string") throw new FormatError("expected a string");
    if (task === "listops") return parseListOpsExpression(text);
    const tokens = tokenize(text);
    if (tokens.length === 0) throw new FormatError("empty sentence (no words)");
    return unparsedSentence(tokens);
  } catch (err) {
    if (err instanceof FormatError) throw new DataError(INPUT, line, field, err.message);
    throw err;
  }
}

/** Predictions for examples built from raw input (inputExamples), in their order. */
function run(
  loaded: LoadedModel,
  examples: Example[],
  options: RawInputOptions,
): (PairPrediction | ListOpsPrediction)[] {
  const { model, vocab } = loaded;
  const data: TaskData = {
    task: model.config.task,
    file: INPUT,
    examples,
    skipped: { noGoldLabel: 0, invalid: 0 },
  };
  const p = predict(model, data, vocab, options.batchSize);
  return examples.map((ex, i) =>
    presentAnswer(
      loaded,
      ex,
      p.probabilities.subarray(i * p.classes, (i + 1) * p.classes),
      p.trees[i] ?? null,
    ),
  );
}
