// The fused ops' device-generic (ATen) path — what they run on a GPU — checked on the CPU: a
// child process with SPINN_GENERIC_KERNELS=1 runs the same program (generic-kernels-program.ts)
// as this process's CPU path, and every value and gradient agrees to float64 rounding.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runtimeInfo } from "../../src/engine/index.js";
import { genericKernelsProgram } from "./generic-kernels-program.js";

test("gathers, gathered products and cells inside a state memory: the generic (ATen) path forced on the CPU agrees with the CPU path", () => {
  assert.equal(runtimeInfo().genericKernels, false, "this process runs the CPU path");
  const cpu = genericKernelsProgram();
  const program = fileURLToPath(new URL("./generic-kernels-program.js", import.meta.url));
  const child = spawnSync(process.execPath, [program], {
    encoding: "utf8",
    env: { ...process.env, SPINN_GENERIC_KERNELS: "1" },
  });
  assert.equal(child.status, 0, child.stderr);
  const generic = JSON.parse(child.stdout) as { genericKernels: boolean; results: number[][] };
  assert.equal(generic.genericKernels, true, "the child runs the generic path");
  assert.equal(generic.results.length, cpu.length);
  cpu.forEach((values, k) => {
    const other = generic.results[k]!;
    assert.equal(other.length, values.length, `result ${k}: size`);
    values.forEach((v, i) => {
      assert.ok(
        Math.abs(v - other[i]!) <= 1e-12 * Math.max(1, Math.abs(v)),
        `result ${k}[${i}]: ${v} vs ${other[i]}`,
      );
    });
  });
});
