// Summary statistics for data sets (used by `spinn data stats` and the generator's report).

/** Length distribution; percentiles use the nearest-rank method (always an observed value). */
export interface LengthSummary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of ascending-sorted values (p in [0, 100]); NaN for no values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarizeLengths(values: ArrayLike<number>): LengthSummary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const n = sorted.length;
  return {
    count: n,
    mean: n > 0 ? Math.round((sum / n) * 100) / 100 : Number.NaN,
    min: n > 0 ? sorted[0]! : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: n > 0 ? sorted[n - 1]! : Number.NaN,
  };
}

/** Counts per label name, in the order of `names`. */
export function labelCounts(labels: Iterable<number>, names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = 0;
  for (const l of labels) {
    const name = names[l] ?? String(l);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** "p50 12, p90 20, p99 31, max 82 (mean 11.4)": one line for terminals. */
export function formatLengths(s: LengthSummary): string {
  if (s.count === 0) return "no sentences";
  return `min ${s.min}, p50 ${s.p50}, p90 ${s.p90}, p99 ${s.p99}, max ${s.max} (mean ${s.mean})`;
}
