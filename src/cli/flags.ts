// Checking flag values: every bad value is a UserError naming the flag and what it expects.
import { existsSync, statSync } from "node:fs";
import { UserError } from "./errors.js";

export function intFlag(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UserError(`${flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
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

export function dirFlag(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!existsSync(value) || !statSync(value).isDirectory())
    throw new UserError(`${flag}: no such directory: ${value}`);
  return value;
}

/** Drops undefined values, so that parsed flags can be spread over defaults. */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
