// Classification metrics: accuracy, per-class precision/recall/F1 and the confusion matrix.

export interface ClassReport {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  examples: number;
  accuracy: number;
  perClass: ClassReport[];
  macroF1: number;
  /** confusion[gold][predicted] counts. */
  confusion: number[][];
  labels: string[];
}

export function classificationReport(
  gold: ArrayLike<number>,
  predicted: ArrayLike<number>,
  labels: readonly string[],
): ClassificationReport {
  if (gold.length !== predicted.length) throw new RangeError("gold and predicted labels differ in length");
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i]!;
    const p = predicted[i]!;
    if (g < 0 || g >= k || p < 0 || p >= k) throw new RangeError(`label out of range at example ${i}`);
    confusion[g]![p]!++;
  }
  return reportFromConfusion(confusion, labels);
}

/** The report from its confusion counts (confusion[gold][predicted]), e.g. summed over shards of the data. */
export function reportFromConfusion(confusion: number[][], labels: readonly string[]): ClassificationReport {
  const k = labels.length;
  let right = 0;
  let examples = 0;
  for (let g = 0; g < k; g++) {
    right += confusion[g]![g]!;
    for (const c of confusion[g]!) examples += c;
  }
  const perClass = labels.map((label, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predictedCount ? tp / predictedCount : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  return {
    examples,
    accuracy: examples ? right / examples : 0,
    perClass,
    macroF1: perClass.reduce((a, c) => a + c.f1, 0) / Math.max(1, k),
    confusion,
    labels: [...labels],
  };
}

/** The report as aligned text lines (for terminals). */
export function formatReport(r: ClassificationReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}`.padStart(7);
  const width = Math.max(8, ...r.labels.map((l) => l.length));
  const lines = [
    `accuracy ${(100 * r.accuracy).toFixed(2)}% on ${r.examples} examples (macro F1 ${(100 * r.macroF1).toFixed(2)})`,
    "",
    `${"class".padEnd(width)}  precision  recall      F1  support`,
    ...r.perClass.map(
      (c) =>
        `${c.label.padEnd(width)}  ${pct(c.precision)}%  ${pct(c.recall)}% ${pct(c.f1)}  ${String(c.support).padStart(7)}`,
    ),
    "",
    `confusion (rows: gold, columns: predicted)`,
    `${"".padEnd(width)}  ${r.labels.map((l) => l.slice(0, 8).padStart(8)).join(" ")}`,
    ...r.confusion.map(
      (row, g) => `${r.labels[g]!.padEnd(width)}  ${row.map((n) => String(n).padStart(8)).join(" ")}`,
    ),
  ];
  return lines.join("\n");
}
