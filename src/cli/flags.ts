// Checking flag values: every bad value is a UserError naming the flag and what it expects.
import { existsSync, statSync } from "node:fs";
import type { Command } from "commander";
import type { Device } from "../engine/dtype.js";
import { DEFAULT_INPUT_LIMITS, INPUT_LIMIT_FLAGS, type InputLimits } from "../inference/input-limits.js";
import { pretrainedDir, pretrainedNames } from "../models/pretrained.js";
import { MODEL_SIZES, type ModelSizes, SIZE_KEYS } from "../models/sizes.js";
import { UserError } from "./errors.js";

export function intFlag(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UserError(`${flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * --curriculum: comma-separated lengths, one per epoch; `LxK` stands for K epochs at length L
 * ("40x3,100" is 40, 40, 40, 100).
 */
export function curriculumFlag(value: string | undefined, flag: string): number[] | undefined {
  if (value === undefined) return undefined;
  const out: number[] = [];
  for (const part of value.split(",")) {
    const m = /^\s*(\d+)(?:x(\d+))?\s*$/.exec(part);
    const length = Number(m?.[1]);
    const times = Number(m?.[2] ?? 1);
    if (!m || length < 1 || times < 1 || out.length + times > 100_000) {
      throw new UserError(
        `${flag} must be lengths in tokens, one per epoch, separated by commas (LxK: K epochs at L), e.g. 40x4,100,300; got ${JSON.stringify(value)}`,
      );
    }
    for (let k = 0; k < times; k++) out.push(length);
  }
  return out;
}

export function numberFlag(
  value: string | undefined,
  flag: string,
  min = 0,
  max = Number.POSITIVE_INFINITY,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UserError(`${flag} must be a number in [${min}, ${max}], got "${value}"`);
  }
  return n;
}

export function choiceFlag<T extends string>(
  value: string | undefined,
  flag: string,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!choices.includes(value as T))
    throw new UserError(`${flag} must be one of ${choices.join(", ")}, got "${value}"`);
  return value as T;
}

export function fileFlag(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!existsSync(value)) throw new UserError(`${flag}: no such file: ${value}`);
  if (!statSync(value).isFile()) throw new UserError(`${flag}: not a file: ${value}`);
  return value;
}

/** A device name as the engine takes it: cpu, cuda or cuda:N (whether it exists is checked on use). */
export function deviceFlag(value: string | undefined, flag = "--device"): Device | undefined {
  if (value === undefined) return undefined;
  if (!/^(cpu|cuda(:\d+)?)$/.test(value))
    throw new UserError(`${flag} must be cpu, cuda or cuda:N, got "${value}"`);
  return value as Device;
}

/** Registers one flag per model size (MODEL_SIZES), its help text quoting the default. */
export function addSizeOptions(command: Command): Command {
  for (const key of SIZE_KEYS) {
    const spec = MODEL_SIZES[key];
    const value = spec.kind === "rate" ? "<p>" : "<n>";
    command.option(`${spec.flag} ${value}`, `${spec.help} (default ${spec.default})`);
  }
  return command;
}

/** The size flags given (as registered by addSizeOptions), checked; undefined where not given. */
export function sizeFlags(flags: Partial<Record<keyof ModelSizes, string>>): Partial<ModelSizes> {
  const sizes: Partial<ModelSizes> = {};
  for (const key of SIZE_KEYS) {
    const spec = MODEL_SIZES[key];
    const value =
      spec.kind === "rate"
        ? numberFlag(flags[key], spec.flag, spec.min, 0.99)
        : intFlag(flags[key], spec.flag, spec.min);
    if (value !== undefined) sizes[key] = value;
  }
  return sizes;
}

/** The model a command runs (`--model-dir DIR` or a shipped model, `--model NAME`) and how. */
export interface ModelFlags {
  modelDir?: string;
  model?: string;
  batchSize?: string;
  device?: string;
}

/** Commands that read lines of user input (predict, parse): where from, and their limits. */
export interface LineInputFlags extends ModelFlags {
  input?: string;
  maxTokens?: string;
  maxLineBytes?: string;
}

/** The device and batch size of a command that runs a model (eval, predict, parse). */
export function runFlags(f: ModelFlags): { device: Device; batchSize: number } {
  return { device: deviceFlag(f.device) ?? "cpu", batchSize: intFlag(f.batchSize, "--batch-size", 1) ?? 256 };
}

/** The model directory the flags name: exactly one of --model-dir and --model. */
export function modelDirFlag(f: ModelFlags): string {
  if ((f.modelDir === undefined) === (f.model === undefined)) {
    const names = pretrainedNames();
    throw new UserError(
      `give one of --model-dir DIR or --model NAME (shipped: ${names.length > 0 ? names.join(", ") : "none"})`,
    );
  }
  return f.modelDir ?? pretrainedDir(f.model!);
}

/** Registers --model-dir, --model, --batch-size and --device on a command that runs a model. */
export function addModelOptions(command: Command, items = "examples"): Command {
  return command
    .option("--model-dir <dir>", "a model directory, or a training run (its best model)")
    .option("--model <name>", "a shipped pretrained model, by name (see pretrained/)")
    .option("--batch-size <n>", `${items} run through the model together (default 256)`)
    .option("--device <device>", "cpu, cuda or cuda:N (default cpu)");
}

/** Drops undefined values, so that parsed flags can be spread over defaults. */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** --max-tokens and --max-line-bytes (defaults from inference/input-limits.ts, shared by every reader). */
export function inputLimitFlags(f: { maxTokens?: string; maxLineBytes?: string }): InputLimits {
  return {
    maxTokens: intFlag(f.maxTokens, INPUT_LIMIT_FLAGS.maxTokens, 1) ?? DEFAULT_INPUT_LIMITS.maxTokens,
    maxLineBytes:
      intFlag(f.maxLineBytes, INPUT_LIMIT_FLAGS.maxLineBytes, 1) ?? DEFAULT_INPUT_LIMITS.maxLineBytes,
  };
}

/** Registers --max-tokens and --max-line-bytes on an input-reading command. */
export function addInputLimitOptions(command: Command): Command {
  return command
    .option(
      `${INPUT_LIMIT_FLAGS.maxTokens} <n>`,
      `most tokens in one sentence; a longer one is an error at its line (default ${DEFAULT_INPUT_LIMITS.maxTokens})`,
    )
    .option(
      `${INPUT_LIMIT_FLAGS.maxLineBytes} <n>`,
      `most bytes in one input line, checked while reading (default ${DEFAULT_INPUT_LIMITS.maxLineBytes}, 1 MiB)`,
    );
}
