// The CLI's JSON output, one way for every command: keys in snake_case (as metrics.jsonl has
// them), one value per line on stdout. The library's objects keep their TypeScript names; they
// are converted here, at the boundary.

/** Keys whose value is a map keyed by data (label names, genres, native function names): kept as they are. */
const DATA_KEYED = new Set(["labels", "probabilities", "genres", "native_calls_by_name_per_train_step"]);

/** "bestDevAccuracy" → "best_dev_accuracy", "macroF1" → "macro_f1"; snake_case keys are unchanged. */
export function snakeCase(key: string): string {
  return key.replace(/(?<=[a-z0-9])([A-Z])/g, "_$1").toLowerCase();
}

/** A copy of `value` with every object key in snake_case, at any depth (not inside DATA_KEYED maps). */
export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const key = snakeCase(k);
      const kept = DATA_KEYED.has(key) && v !== null && typeof v === "object" && !Array.isArray(v);
      return [
        key,
        kept ? Object.fromEntries(Object.entries(v).map(([dk, dv]) => [dk, snakeKeys(dv)])) : snakeKeys(v),
      ];
    }),
  );
}

/** Writes `value` as one JSON line on stdout, its keys in snake_case. */
export function writeJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(snakeKeys(value))}\n`);
}
