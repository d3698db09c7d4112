// Flags: every value flag of every command is a commander Option made here, so that its value is
// checked while the command line is parsed (a bad one is one UserError line, exit code 2, before
// anything runs), arrives typed, and --help shows its choices and its default (the code's own).
//
// To give a command a flag:
//
//   command
//     .addOption(intOption("--workers <n>", "worker processes", { min: 1, default: 1 }))
//     .addOption(numberOption("--lr <x>", "learning rate", { min: Number.MIN_VALUE }))
//     .addOption(choiceOption("--format <f>", "output format", ["json", "text"], { default: "text" }))
//     .addOption(fileOption("--data <file>", "data file", { stdin: true, required: true }))
//     .addOption(deviceOption("cpu"));
//
// and the action receives `{ workers: number; lr?: number; format: "json" | "text"; ... }`: a
// flag with a default always has a value, one without is undefined when not given.
// `givenOptions(command)` keeps only the flags given on the command line (train --resume compares
// exactly those with the saved run). Checks between flags (exactly one of two) stay in the action.
// Parsers throw the project's UserError rather than commander's InvalidArgumentError (whose message
// commander prefixes with "option '--x <n>' argument 'y' is invalid."), so that a bad value reads
// like every other user error. test/cli/flags.test.ts checks that every value flag of every
// command has a parser (paths the command writes and model directories excepted).
import { existsSync, statSync } from "node:fs";
import { type Command, Option } from "commander";
import { STDIN } from "../data/lines.js";
import type { Device } from "../engine/dtype.js";
import { DEFAULT_INPUT_LIMITS, INPUT_LIMIT_FLAGS, type InputLimits } from "../inference/input-limits.js";
import { type EncoderKind, type ParserKind, predictsTransitions } from "../models/kinds.js";
import { dirOrShipped, pretrainedDir, pretrainedNames } from "../models/pretrained.js";
import { MODEL_SIZES, SIZE_KEYS } from "../models/sizes.js";
import { UserError } from "./errors.js";

/** A flag's default (shown in --help) and whether it must be given. */
export interface FlagSettings<T> {
  default?: T;
  /** How --help shows the default when the value alone does not say it (e.g. 0: "no limit"). */
  defaultText?: string;
  required?: boolean;
}

/** Sets the default and whether the flag must be given. */
function applySettings<T>(option: Option, settings: FlagSettings<T>): Option {
  if (settings.default !== undefined) option.default(settings.default, settings.defaultText);
  if (settings.required) option.makeOptionMandatory();
  return option;
}

/** An Option whose value goes through `parse` (which throws a UserError naming the flag). */
function valueOption<T>(
  flags: string,
  help: string,
  parse: (value: string, flag: string) => T,
  settings: FlagSettings<T>,
): Option {
  const option = new Option(flags, help);
  const flag = option.long ?? flags;
  return applySettings(option, settings).argParser((value: string) => parse(value, flag));
}

/** An integer value in [min, max]. */
export function intValue(value: string, flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new UserError(`${flag} must be an integer ${range}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * --curriculum: comma-separated lengths, one per epoch; `LxK` stands for K epochs at length L
 * ("40x3,100" is 40, 40, 40, 100).
 */
export function curriculumValue(value: string, flag: string): number[] {
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

/** A length curriculum (see curriculumValue). */
export function curriculumOption(flags: string, help: string, settings: FlagSettings<number[]> = {}): Option {
  return valueOption(flags, help, curriculumValue, settings);
}

export function intOption(
  flags: string,
  help: string,
  settings: FlagSettings<number> & { min?: number; max?: number } = {},
): Option {
  return valueOption(flags, help, (v, f) => intValue(v, f, settings.min, settings.max), settings);
}

/** A comma-separated list of integers in [min, max] (e.g. a sweep: 10,100,1000). */
export function intListOption(
  flags: string,
  help: string,
  settings: FlagSettings<number[]> & { min?: number; max?: number } = {},
): Option {
  const parse = (v: string, f: string) => v.split(",").map((n) => intValue(n, f, settings.min, settings.max));
  return valueOption(flags, help, parse, settings);
}

/** A finite number in [min, max]. */
export function numberValue(value: string, flag: string, min = 0, max = Number.POSITIVE_INFINITY): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    // min = Number.MIN_VALUE is how a flag asks for a positive number.
    const positive = min === Number.MIN_VALUE;
    const unbounded = max === Number.POSITIVE_INFINITY;
    const from = positive ? "0" : String(min);
    const range = unbounded
      ? `${positive ? ">" : ">="} ${from}`
      : `in ${positive ? "(" : "["}${from}, ${max}]`;
    throw new UserError(`${flag} must be a number ${range}, got "${value}"`);
  }
  return n;
}

export function numberOption(
  flags: string,
  help: string,
  settings: FlagSettings<number> & { min?: number; max?: number } = {},
): Option {
  return valueOption(flags, help, (v, f) => numberValue(v, f, settings.min, settings.max), settings);
}

/** One of a fixed list of names; --help lists them. */
export function choiceOption<T extends string>(
  flags: string,
  help: string,
  choices: readonly T[],
  settings: FlagSettings<T> = {},
): Option {
  const option = new Option(flags, help).choices(choices);
  return applySettings(option, settings).argParser((value: string) => {
    if (!choices.includes(value as T))
      throw new UserError(`${option.long} must be one of ${choices.join(", ")}, got "${value}"`);
    return value as T;
  });
}

/** An existing file; with `stdin`, "-" is standard input (STDIN, which the data readers read). */
export function fileValue(value: string, flag: string, stdin = false): string {
  if (value === "-") {
    if (stdin) return STDIN;
    // Flags that cannot read stdin say so (train, for one, reads its data again on --resume).
    throw new UserError(`${flag} takes a file, not - (stdin)`);
  }
  if (!existsSync(value)) throw new UserError(`${flag}: no such file: ${value}`);
  if (!statSync(value).isFile()) throw new UserError(`${flag}: not a file: ${value}`);
  return value;
}

export function fileOption(
  flags: string,
  help: string,
  settings: FlagSettings<string> & { stdin?: boolean } = {},
): Option {
  return valueOption(flags, help, (v, f) => fileValue(v, f, settings.stdin), settings);
}

/** A model given as DIR_OR_NAME (a model directory, a training run or a shipped model): its directory. */
export function modelDirOrNameValue(value: string, flag: string): string {
  return dirOrShipped(value, flag).dir;
}

export function modelDirOrNameOption(
  flags: string,
  help: string,
  settings: FlagSettings<string> = {},
): Option {
  return valueOption(flags, help, modelDirOrNameValue, settings);
}

/** A device name as the engine takes it: cpu, cuda or cuda:N (whether it exists is checked on use). */
export function deviceValue(value: string, flag: string): Device {
  if (!/^(cpu|cuda(:\d+)?)$/.test(value))
    throw new UserError(`${flag} must be cpu, cuda or cuda:N, got "${value}"`);
  return value as Device;
}

export function deviceOption(defaultDevice: Device): Option {
  return valueOption("--device <device>", "cpu, cuda or cuda:N", deviceValue, { default: defaultDevice });
}

/** A host name or an IP address (v4, or v6 in brackets or not): letters, digits, '.', '-', ':', '[', ']'. */
export function hostValue(value: string, flag: string): string {
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(value))
    throw new UserError(`${flag} must be a host name or an IP address, got ${JSON.stringify(value)}`);
  return value.replace(/^\[(.*)\]$/, "$1");
}

export function hostOption(flags: string, help: string, settings: FlagSettings<string> = {}): Option {
  return valueOption(flags, help, hostValue, settings);
}

/** Adds options to a command, in order (for lists of options made once, such as the sizes). */
export function addOptions(command: Command, options: Option[]): Command {
  for (const option of options) command.addOption(option);
  return command;
}

/** One flag per model size (MODEL_SIZES), defaults from the same table. */
export function sizeOptions(): Option[] {
  return SIZE_KEYS.map((key) => {
    const spec = MODEL_SIZES[key];
    return spec.kind === "rate"
      ? numberOption(`${spec.flag} <p>`, spec.help, { min: spec.min, max: 0.99, default: spec.default })
      : intOption(`${spec.flag} <n>`, spec.help, { min: spec.min, default: spec.default });
  });
}

/** The values of the flags given on the command line (env counts as given), without defaults. */
export function givenOptions<T extends object>(command: Command): Partial<T> {
  const given = Object.entries(command.opts()).filter(([key]) => {
    const source = command.getOptionValueSource(key);
    return source === "cli" || source === "env";
  });
  return Object.fromEntries(given) as Partial<T>;
}

/** The model a command runs (`--model-dir DIR` or a shipped model, `--model NAME`) and how. */
export interface ModelFlags {
  modelDir?: string;
  model?: string;
  batchSize: number;
  device: Device;
}

/** Commands that read lines of user input (predict, parse): where from (STDIN or a file), limits. */
export interface LineInputFlags extends ModelFlags, InputLimits {
  input: string;
}

/** The model directory the flags name: exactly one of --model-dir and --model. */
export function modelDirFlag(f: Pick<ModelFlags, "modelDir" | "model">): string {
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
  const names = pretrainedNames();
  const model = new Option("--model <name>", "a shipped pretrained model, by name (see pretrained/)")
    .choices(names)
    // An unknown name is named with the shipped ones (pretrainedDir's error).
    .argParser((name: string) => {
      pretrainedDir(name);
      return name;
    });
  return command
    .option("--model-dir <dir>", "a model directory, or a training run (its best model)")
    .addOption(model)
    .addOption(
      intOption("--batch-size <n>", `${items} run through the model together`, { min: 1, default: 256 }),
    )
    .addOption(deviceOption("cpu"));
}

/** Registers --input (a file, or - and by default stdin), --max-tokens and --max-line-bytes. */
export function addLineInputOptions(command: Command): Command {
  return command
    .addOption(
      fileOption("--input <file>", "read from this file instead of stdin (- for stdin)", {
        stdin: true,
        default: STDIN,
        defaultText: "stdin",
      }),
    )
    .addOption(
      intOption(
        `${INPUT_LIMIT_FLAGS.maxTokens} <n>`,
        "most tokens in one sentence; a longer one is an error at its line",
        {
          min: 1,
          default: DEFAULT_INPUT_LIMITS.maxTokens,
        },
      ),
    )
    .addOption(
      intOption(
        `${INPUT_LIMIT_FLAGS.maxLineBytes} <n>`,
        "most bytes in one input line, checked while reading",
        {
          min: 1,
          default: DEFAULT_INPUT_LIMITS.maxLineBytes,
          defaultText: `${DEFAULT_INPUT_LIMITS.maxLineBytes}, 1 MiB`,
        },
      ),
    );
}

/**
 * `--parser` and `--parser-hidden` (spinn train, spinn bench) against the model: a parser of its
 * own only for the models that parse, a merge parser only for RL-SPINN, a parser size only with
 * a parser. `given`: the flags given on the command line.
 */
export function checkParserFlags(
  model: EncoderKind,
  given: {
    parser?: ParserKind | undefined;
    parserHidden?: number | undefined;
    composerTracker?: number | undefined;
  },
): void {
  for (const [key, flag] of [
    ["parser", "--parser"],
    ["parserHidden", "--parser-hidden"],
    ["composerTracker", "--composer-tracker"],
  ] as const) {
    if (given[key] !== undefined && !predictsTransitions(model))
      throw new UserError(`${flag} applies to the models that parse (spinn, rl-spinn), not ${model}`);
  }
  if (given.parserHidden !== undefined && (given.parser ?? "shared") === "shared")
    throw new UserError("--parser-hidden sizes a separate parser: add --parser separate or --parser merge");
  if (given.composerTracker !== undefined && (given.parser ?? "shared") === "shared")
    throw new UserError(
      "--composer-tracker gives the composer a tracker beside a separate parser: add --parser separate or --parser merge (with the shared tracker the composer has one already)",
    );
  if (given.parser === "merge" && model !== "rl-spinn")
    throw new UserError(
      `--parser merge learns its trees from the reward alone: it applies to rl-spinn, not ${model}`,
    );
}
