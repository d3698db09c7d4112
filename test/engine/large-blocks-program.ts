// Run as a child by 55-cpu-allocator.test.ts (a fresh process, so the large-block range starts
// empty): makes and frees tensors of 128 KiB and more in an order that shows where the range
// places them, and prints the range's usage after each step as JSON (memory().largeBlocks).
import { memory, runtimeInfo, type Tensor, zeros } from "../../src/engine/index.js";

const MiB = 2 ** 20;
/** A float32 tensor of exactly `mib` MiB. */
const block = (mib: number): Tensor => zeros([(mib * MiB) / 4]);
const usage = () => {
  const { usedBytes, freeBytes, topBytes } = memory().largeBlocks;
  return { used: usedBytes / MiB, free: freeBytes / MiB, top: topBytes / MiB };
};

const steps: Record<string, ReturnType<typeof usage>> = {};
const a = block(1);
const b = block(2);
const c = block(1);
steps.three = usage();
a.dispose();
steps.firstFreed = usage();
const d = block(0.75);
steps.smallerInItsPlace = usage();
b.dispose();
steps.neighboursMerged = usage();
const e = block(3);
steps.tooLargeForTheHole = usage();
const f = block(2);
steps.bestFit = usage();
for (const t of [c, d, e, f]) t.dispose();
steps.allFreed = usage();
process.stdout.write(JSON.stringify({ allocator: runtimeInfo().cpuAllocator, steps }));
