// Model directories and training checkpoints (docs/ARCHITECTURE.md, "Checkpoints"): weights in
// safetensors, config and vocabulary in JSON beside them, sealed by a manifest of checksums. A checkpoint is several
// files, so it is written whole or not at all (checkpoint-dir.ts), and every file is checked when
// read back: a corrupted or hand-edited file is a CheckpointError naming it, never a stack trace
// or a silently wrong model.
import { existsSync } from "node:fs";
import path from "node:path";
import { Vocabulary } from "../data/vocabulary.js";
import {
  checkDevice,
  type Device,
  type DType,
  deserialize,
  keep,
  runtimeInfo,
  saveSafetensors,
  type Tensor,
} from "../engine/index.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { CheckpointError, Fields, parseJson } from "../util/checked-json.js";
import { makeDirectory } from "../util/make-directory.js";
import { readVerified, resolveCheckpointDir, writeDirAtomic } from "./checkpoint-dir.js";
import { ENCODERS, TASKS, TRANSITION_MODES } from "./kinds.js";
import { Model, type ModelConfig } from "./model.js";
import { MODEL_SIZES } from "./sizes.js";

export const MODEL_FILE = "model.safetensors";
export const CONFIG_FILE = "config.json";
export const VOCAB_FILE = "vocab.json";

export interface ModelMeta {
  format: "spinn-model";
  version: 1;
  model: ModelConfig;
  /** Where the model came from: training steps and the dev accuracy when it was saved. */
  trained?: { steps: number; epoch: number; devAccuracy?: number };
  torchVersion?: string;
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
  makeDirectory(path.dirname(path.resolve(dir)));
  writeDirAtomic(dir, (tmp) => writeModelFiles(tmp, model, vocab, trained));
}

/** A JSON file of a checkpoint, checked against its manifest and parsed. */
function readJson(dir: string, name: string): unknown {
  return parseJson(readVerified(dir, name).toString("utf8"), path.join(dir, name));
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
export function loadModelDir(dir: string, device: Device = "cpu", dtype: DType = "float32"): LoadedModel {
  checkDevice(device);
  const candidates = [dir, path.join(dir, "best"), path.join(dir, "last")];
  const found = candidates.map(resolveCheckpointDir).find((d) => d && existsSync(path.join(d, CONFIG_FILE)));
  if (!found)
    throw new CheckpointError(
      `${dir}: no model here (expected ${CONFIG_FILE}, or a training run with best/ or last/)`,
    );
  const meta = readModelMeta(found);
  const vocab = readVocabulary(found);
  if (vocab.size !== meta.model.vocabSize) {
    throw new CheckpointError(
      `${found}: vocabulary has ${vocab.size} words but the model expects ${meta.model.vocabSize}`,
    );
  }
  let model: Model;
  try {
    model = new Model(meta.model, { device, dtype });
  } catch (err) {
    throw new CheckpointError(`${path.join(found, CONFIG_FILE)}: ${(err as Error).message}`);
  }
  const weights = path.join(found, MODEL_FILE);
  try {
    const tensors = loadTensors(found, MODEL_FILE, device);
    try {
      model.store.load(tensors);
    } catch (err) {
      throw new CheckpointError(`${weights}: ${(err as Error).message}`);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, vocab, meta, dir: found };
}

/** config.json, checked field by field (the model's kind, sizes and vocabulary size). */
function readModelMeta(dir: string): ModelMeta {
  const file = path.join(dir, CONFIG_FILE);
  const json = readJson(dir, CONFIG_FILE);
  const f = new Fields(json, file);
  if (f.object.format !== "spinn-model" || f.object.version !== 1)
    throw new CheckpointError(`${file}: not a spinn-model config (format/version missing)`);
  const m = f.nested("model");
  m.oneOf("task", TASKS);
  m.oneOf("encoder", ENCODERS);
  m.int("vocabSize", 2);
  m.int("classes", 1);
  m.boolean("trainEmbeddings");
  if (m.has("transitions")) m.oneOf("transitions", TRANSITION_MODES);
  if (m.has("valueHead")) m.boolean("valueHead");
  if (m.has("parser")) {
    const parser = m.nested("parser");
    for (const key of ["dEmbed", "dHidden", "dTracker"]) parser.int(key, 1);
  }
  if (m.has("composerTracker")) m.int("composerTracker", 0);
  for (const [key, spec] of Object.entries(MODEL_SIZES)) {
    if (spec.kind === "integer") m.int(key, spec.min);
    else if (!(m.number(key) >= 0 && m.number(key) < 1))
      m.fail(key, "expected a rate in [0, 1)", m.object[key]);
  }
  const meta = json as ModelMeta;
  meta.model = { ...meta.model, transitions: meta.model.transitions ?? "gold" };
  return meta;
}

/** vocab.json, checked (its shape; its size against the config is the caller's check). */
function readVocabulary(dir: string): Vocabulary {
  return Vocabulary.fromJSON(readJson(dir, VOCAB_FILE), path.join(dir, VOCAB_FILE));
}

/**
 * Loads the named tensors of safetensors file `name` in checkpoint `dir` (checked against the
 * manifest; every floating-point value must be finite, which catches NaN weights even in a
 * directory without a manifest), kept out of every scope (caller disposes).
 */
export function loadTensors(dir: string, name: string, device: Device = "cpu"): Map<string, Tensor> {
  const file = path.join(dir, name);
  const { tensors } = deserialize(readVerified(dir, name), file, device);
  for (const t of tensors.values()) keep(t);
  for (const [key, t] of tensors) {
    if (t.dtype !== "float32" && t.dtype !== "float64") continue;
    if (!(t.data() as Float32Array | Float64Array).every(Number.isFinite)) {
      for (const u of tensors.values()) u.dispose();
      throw new CheckpointError(`${file}: tensor "${key}" holds NaN or infinite values`);
    }
  }
  return tensors;
}
