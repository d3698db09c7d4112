// Model directories and training checkpoints (docs/ARCHITECTURE.md, "Checkpoints"): weights in safetensors, config and
// vocabulary in JSON beside them. A checkpoint is several files, so it is written into a fresh
// directory that then replaces the old one by rename: a crash at any moment leaves the previous
// checkpoint (or the new one) complete, never a mix.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { Vocabulary } from "../data/vocabulary.js";
import {
  checkDevice,
  type Device,
  keep,
  loadSafetensors,
  runtimeInfo,
  saveSafetensors,
  type Tensor,
} from "../engine/index.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { Model, type ModelConfig } from "./model.js";

export const MODEL_FILE = "model.safetensors";
export const CONFIG_FILE = "config.json";
export const VOCAB_FILE = "vocab.json";

/** A model directory or checkpoint that is missing, incomplete or does not fit the model. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export interface ModelMeta {
  format: "spinn-model";
  version: 1;
  model: ModelConfig;
  /** Where the model came from: training steps and the dev accuracy when it was saved. */
  trained?: { steps: number; epoch: number; devAccuracy?: number };
  torchVersion?: string;
}

/**
 * Replaces directory `target` with one filled by `fill`, atomically: fill writes into a
 * temporary sibling directory, which is renamed into place; the old one is kept as
 * `<target>.old` until the swap is done (see resolveCheckpointDir).
 */
export function writeDirAtomic(target: string, fill: (dir: string) => void): void {
  const tmp = `${target}.tmp-${process.pid}`;
  const old = `${target}.old`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    fill(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  rmSync(old, { recursive: true, force: true });
  if (existsSync(target)) renameSync(target, old);
  renameSync(tmp, target);
  rmSync(old, { recursive: true, force: true });
}

/** The directory to read for `target`: itself, or `<target>.old` if a swap was interrupted. */
export function resolveCheckpointDir(target: string): string | null {
  if (existsSync(path.join(target, CONFIG_FILE)) || existsSync(path.join(target, "trainer.json")))
    return target;
  const old = `${target}.old`;
  return existsSync(old) ? old : null;
}

/** Writes a model's weights, config and vocabulary into `dir` (inside writeDirAtomic's fill). */
export function writeModelFiles(
  dir: string,
  model: Model,
  vocab: Vocabulary,
  trained?: ModelMeta["trained"],
): void {
  const meta: ModelMeta = {
    format: "spinn-model",
    version: 1,
    model: model.config,
    ...(trained ? { trained } : {}),
    torchVersion: runtimeInfo().torchVersion,
  };
  saveSafetensors(path.join(dir, MODEL_FILE), model.store.all(), { format: "pt", source: "spinn-ts" });
  writeFileAtomic(path.join(dir, CONFIG_FILE), `${JSON.stringify(meta, null, 2)}\n`);
  writeFileAtomic(path.join(dir, VOCAB_FILE), JSON.stringify(vocab.toJSON()));
}

export function saveModelDir(
  dir: string,
  model: Model,
  vocab: Vocabulary,
  trained?: ModelMeta["trained"],
): void {
  mkdirSync(path.dirname(path.resolve(dir)), { recursive: true });
  writeDirAtomic(dir, (tmp) => writeModelFiles(tmp, model, vocab, trained));
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CheckpointError(
      `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

export interface LoadedModel {
  model: Model;
  vocab: Vocabulary;
  meta: ModelMeta;
  dir: string;
}

/**
 * Loads a model directory, or a training run's output directory (its best-on-dev model, else
 * its latest checkpoint).
 */
export function loadModelDir(dir: string, device: Device = "cpu"): LoadedModel {
  checkDevice(device);
  const candidates = [dir, path.join(dir, "best"), path.join(dir, "last")];
  const found = candidates.map(resolveCheckpointDir).find((d) => d && existsSync(path.join(d, CONFIG_FILE)));
  if (!found)
    throw new CheckpointError(
      `${dir}: no model here (expected ${CONFIG_FILE}, or a training run with best/ or last/)`,
    );
  const meta = readJson(path.join(found, CONFIG_FILE)) as ModelMeta;
  if (meta?.format !== "spinn-model" || meta.version !== 1 || typeof meta.model !== "object") {
    throw new CheckpointError(
      `${path.join(found, CONFIG_FILE)}: not a spinn-model config (format/version missing)`,
    );
  }
  meta.model = { ...meta.model, transitions: meta.model.transitions ?? "gold" };
  const vocab = Vocabulary.fromJSON(readJson(path.join(found, VOCAB_FILE)));
  if (vocab.size !== meta.model.vocabSize) {
    throw new CheckpointError(
      `${found}: vocabulary has ${vocab.size} words but the model expects ${meta.model.vocabSize}`,
    );
  }
  let model: Model;
  try {
    model = new Model(meta.model, { device });
  } catch (err) {
    throw new CheckpointError(`${path.join(found, CONFIG_FILE)}: ${(err as Error).message}`);
  }
  const { tensors } = loadSafetensors(path.join(found, MODEL_FILE));
  try {
    model.store.load(tensors);
  } catch (err) {
    model.dispose();
    throw new CheckpointError(`${path.join(found, MODEL_FILE)}: ${(err as Error).message}`);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return { model, vocab, meta, dir: found };
}

/** Loads named tensors kept out of every scope (caller disposes). */
export function loadTensors(file: string): Map<string, Tensor> {
  const { tensors } = loadSafetensors(file);
  for (const t of tensors.values()) keep(t);
  return tensors;
}
