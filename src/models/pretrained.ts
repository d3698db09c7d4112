// The pretrained models shipped with the package, by name (`--model listops-pi`): each is a
// model directory under `pretrained/<name>/` with a model card (CARD.md for people, card.json for
// programs: data, command, seed, measured figures) and a small evaluation sample whose accuracy
// the card states, so that a test can check the card against the model.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Fields, readJsonFile } from "../util/checked-json.js";
import { TASKS } from "./kinds.js";

export interface ModelCard {
  name: string;
  task: "nli" | "listops";
  encoder: string;
  /** One line: what the model is and what it is good for. */
  summary: string;
  /** The data it was trained and selected on, and the held-out test set. */
  data: { train: string; dev: string; test: string };
  /** The exact commands that made it (data generation, training). */
  commands: string[];
  seed: number;
  /** Held-out figures measured with `spinn eval` on the test set. */
  test: { examples: number; accuracy: number; treeF1?: number | null };
  bestDevAccuracy: number;
  trainingSeconds: number;
  /** A small evaluation sample shipped beside the model, and the accuracy the model scores on it. */
  sample: { file: string; examples: number; accuracy: number };
  date: string;
}

/** The folder the shipped models live in: `pretrained/` at the package root. */
export function pretrainedRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // src/models (run from source) or dist/src/models (compiled): walk up to the package root.
  for (let dir = here; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return path.join(dir, "pretrained");
  }
  return path.resolve(here, "../../pretrained");
}

/** The names of the shipped models, sorted. */
export function pretrainedNames(): string[] {
  const root = pretrainedRoot();
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(root, d.name, "card.json")))
    .map((d) => d.name)
    .sort();
}

/**
 * What a `DIR_OR_NAME` value of `flag` names: the path when it exists (a model directory or a
 * training run; loading it says what is wrong with one), else a shipped model's directory; an
 * error naming the shipped models when it is neither.
 */
export function dirOrShipped(spec: string, flag: string): { dir: string; shipped: boolean } {
  if (existsSync(spec)) return { dir: path.resolve(spec), shipped: false };
  const names = pretrainedNames();
  if (names.includes(spec)) return { dir: pretrainedDir(spec), shipped: true };
  const shipped = names.join(", ") || "none";
  throw new PretrainedError(
    `${flag} ${spec}: no such model directory, nor a shipped model (shipped: ${shipped})`,
  );
}

/** The model directory of a shipped model; a clear error naming the ones there are. */
export function pretrainedDir(name: string): string {
  const names = pretrainedNames();
  if (!names.includes(name)) {
    const known = names.length > 0 ? names.join(", ") : "none are installed";
    throw new PretrainedError(`no shipped model named "${name}" (shipped: ${known})`);
  }
  return path.join(pretrainedRoot(), name);
}

export function readCard(name: string): ModelCard {
  return readCardFile(path.join(pretrainedDir(name), "card.json"));
}

/** A card.json, checked field by field: a damaged card is one CheckpointError line naming it. */
export function readCardFile(file: string): ModelCard {
  const json = readJsonFile(file);
  const f: Fields = new Fields(json, file);
  for (const key of ["name", "encoder", "summary", "date"]) f.string(key);
  f.oneOf("task", TASKS);
  f.int("seed");
  f.number("bestDevAccuracy");
  f.number("trainingSeconds");
  const data = f.nested("data");
  for (const key of ["train", "dev", "test"]) data.string(key);
  const commands = f.object.commands;
  if (!Array.isArray(commands) || !commands.every((c) => typeof c === "string"))
    f.fail("commands", "expected an array of strings", commands);
  for (const key of ["test", "sample"]) {
    const figures = f.nested(key);
    figures.int("examples", 1);
    figures.number("accuracy");
  }
  f.nested("sample").string("file");
  return json as ModelCard;
}

export class PretrainedError extends Error {
  override name = "PretrainedError";
}
