// The products 85-packed-linear.test.ts compares between a process with the packed kernel and a
// child with SPINN_PACKED_LINEAR=0: one without gradients (the kernel, or libtorch's product in
// the child) and one with (libtorch's product in both), with its weight's gradient. Run as a
// script it prints them, with runtimeInfo().packedLinear, as JSON.
import { fileURLToPath } from "node:url";
import { linear, manualSeed, noGrad, randn, runtimeInfo, scope } from "../../src/engine/index.js";

export function packedLinearProgram(): { noGrad: number[]; withGrad: number[]; weightGrad: number[] } {
  manualSeed(12);
  return scope(() => {
    const x = randn([11, 37]);
    const w = randn([50, 37], { requiresGrad: true });
    const b = randn([50]);
    const without = noGrad(() => linear(x, w, b)).toArray();
    const y = linear(x, w, b);
    y.square().sum().backward();
    return { noGrad: without, withGrad: y.toArray(), weightGrad: w.grad!.toArray() };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify({ ...packedLinearProgram(), packedLinear: runtimeInfo().packedLinear }));
}
