// The peak RSS `spinn bench` reports: the kernel's high-water mark, reset per run, so that the
// runs of a --length sweep in one process each report their own.
import assert from "node:assert/strict";
import { test } from "node:test";
import { peakRssBytes, resetPeakRss } from "../../src/benchmark/peak-rss.js";
import { full, scope } from "../../src/engine/index.js";

const MiB = 2 ** 20;

test("the high-water mark sees a tensor freed before it is read, and a reset forgets it", () => {
  assert.equal(resetPeakRss(), true); // Linux lets a process reset its own mark
  const start = peakRssBytes();
  assert.ok(
    Math.abs(start - process.memoryUsage().rss) < 8 * MiB,
    `${start} vs ${process.memoryUsage().rss}`,
  );
  // 64 MiB written (so resident), then freed: glibc returns a block this large to the kernel.
  scope(() => {
    full([16 * MiB], 1);
  });
  const high = peakRssBytes();
  assert.ok(high >= start + 60 * MiB, `peak ${high / MiB} MiB, start ${start / MiB} MiB`);
  assert.ok(process.memoryUsage().rss < high - 50 * MiB, "the tensor's pages were returned");
  resetPeakRss();
  assert.ok(peakRssBytes() < high - 50 * MiB, "the reset forgot the earlier peak");
});
