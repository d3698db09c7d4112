// Which models a server loads: each `--model` value is a model directory (or a training run)
// when such a path exists, else the name of a shipped model. A model is served under the
// shipped name or its directory's name, and carries its card when it has one.
import { existsSync } from "node:fs";
import path from "node:path";
import { UserError } from "../cli/errors.js";
import { snakeKeys } from "../cli/json-output.js";
import { dirOrShipped, readCardFile } from "../models/pretrained.js";
import type { ModelSource } from "./protocol.js";

export interface ServedModel extends ModelSource {
  card: Record<string, unknown> | null;
}

function cardOf(dir: string): Record<string, unknown> | null {
  const file = path.join(dir, "card.json");
  return existsSync(file) ? (snakeKeys(readCardFile(file)) as Record<string, unknown>) : null;
}

function sourceOf(spec: string): ServedModel {
  const { dir, shipped } = dirOrShipped(spec, "--model");
  return { name: shipped ? spec : path.basename(dir), dir, card: cardOf(dir) };
}

/** The models named on the command line, in order (the first is the default); names are unique. */
export function servedModels(specs: readonly string[]): ServedModel[] {
  if (specs.length === 0) throw new UserError(`give at least one --model DIR_OR_NAME`);
  const models = specs.map(sourceOf);
  const seen = new Set<string>();
  for (const m of models) {
    if (seen.has(m.name))
      throw new UserError(`--model: two models named "${m.name}" (each model is served under its name)`);
    seen.add(m.name);
  }
  return models;
}
