// metrics.jsonl lines carry the wall-clock time and the training time they were written at, which
// differ between two otherwise identical runs: tests that compare runs compare the lines without them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

/** The lines of a metrics file, parsed, each checked to carry its stamps and then without them. */
export function metricsWithoutStamps(file: string): object[] {
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const { time, elapsed_seconds, ...rest } = JSON.parse(line);
      assert.ok(!Number.isNaN(Date.parse(time)), `${file}: time ${time}`);
      assert.equal(typeof elapsed_seconds, "number", `${file}: elapsed_seconds`);
      return rest;
    });
}

/** The training times of a metrics file's lines, in file order. */
export function elapsedSeconds(file: string): number[] {
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line).elapsed_seconds);
}
