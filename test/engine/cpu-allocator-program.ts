// Run as a child by 55-cpu-allocator.test.ts, under the SPINN_ALLOCATOR the test gives it:
// prints as JSON the allocator the engine reports, the values a short seeded training produces
// (products, cells' activations, backward, Adam, tensors of many sizes made and freed), and the
// resident memory before, at the peak of and after a burst of large tensors freed and released.
import {
  Adam,
  linear,
  manualSeed,
  randn,
  releaseFreeMemory,
  runtimeInfo,
  scope,
} from "../../src/engine/index.js";

function shortTraining(): number[] {
  manualSeed(7);
  const w1 = randn([48, 32]).mul(0.2).setRequiresGrad();
  const w2 = randn([3, 48]).mul(0.2).setRequiresGrad();
  const optim = new Adam([w1, w2], { lr: 1e-2 });
  for (let step = 0; step < 12; step++) {
    scope(() => {
      // A different batch size each step: blocks of many sizes, from a few KiB to ~650 KiB (those
      // of 128 KiB and more come from the large-block range under mimalloc).
      const rows = 16 + 307 * step;
      const x = randn([rows, 32]);
      const target = randn([rows, 3]);
      const h = linear(x, w1).tanh();
      const loss = linear(h, w2).sub(target).pow(2).mean();
      optim.zeroGrad();
      loss.backward();
      optim.step();
    });
  }
  return [...w1.toArray(), ...w2.toArray()];
}

function residentMib(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

function burstOfLargeTensors(betweenBatches: boolean): { before: number; peak: number; after: number } {
  const before = residentMib();
  let peak = before;
  scope(() => {
    for (let i = 0; i < 64; i++) randn([1024, 1024]).add(1); // 64 × 2 × 4 MiB, held to the end
    peak = residentMib();
  });
  releaseFreeMemory({ betweenBatches });
  return { before, peak, after: residentMib() };
}

const values = shortTraining();
process.stdout.write(
  JSON.stringify({
    allocator: runtimeInfo().cpuAllocator,
    values,
    burst: burstOfLargeTensors(false),
    // The same again, released as between two batches (some free pages kept for the next).
    burstBetweenBatches: burstOfLargeTensors(true),
  }),
);
