// Products without gradients at small row counts run a kernel over a packed copy of the weight
// (native/src/packed_linear.cpp). Checked here: its values against a float64 product of the same
// float32 numbers, at every remainder of its 6-row tiles and 16-column panels; an example's row
// is the same bits whatever rows are beside it; a weight changed in place, or freed and replaced,
// is packed again; and, in a child with SPINN_PACKED_LINEAR=0 (libtorch's product), the same
// program agrees to float32 rounding, while products that need gradients are the same bits (they
// never take the kernel). Up to 16 rows the kernel runs whatever the BLAS thread count.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  Linear,
  linear,
  manualSeed,
  noGrad,
  ParameterStore,
  randn,
  runtimeInfo,
  StateMemory,
  scope,
  type Tensor,
} from "../../src/engine/index.js";
import { packedLinearProgram } from "./packed-linear-program.js";

const cpuFlags = readFileSync("/proc/cpuinfo", "utf8");
const hasAvx2Fma = /\bavx2\b/.test(cpuFlags) && /\bfma\b/.test(cpuFlags);

/** x·Wᵀ + b in float64 from the tensors' float32 values, and each element's Σ|x·w| + |b|. */
function reference(x: Tensor, w: Tensor, b: Tensor | null): { y: number[]; scale: number[] } {
  const [m, k] = x.shape as [number, number];
  const n = w.shape[0]!;
  const xs = x.toArray();
  const ws = w.toArray();
  const bs = b ? b.toArray() : null;
  const y: number[] = [];
  const scale: number[] = [];
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < n; c++) {
      let sum = bs ? bs[c]! : 0;
      let abs = bs ? Math.abs(bs[c]!) : 0;
      for (let i = 0; i < k; i++) {
        sum += xs[r * k + i]! * ws[c * k + i]!;
        abs += Math.abs(xs[r * k + i]! * ws[c * k + i]!);
      }
      y.push(sum);
      scale.push(abs);
    }
  }
  return { y, scale };
}

function assertClose(actual: number[], expected: { y: number[]; scale: number[] }, what: string): void {
  assert.equal(actual.length, expected.y.length, `${what}: size`);
  actual.forEach((v, i) => {
    const tolerance = 1e-6 * (expected.scale[i]! + 1);
    assert.ok(Math.abs(v - expected.y[i]!) <= tolerance, `${what}[${i}]: ${v} vs ${expected.y[i]}`);
  });
}

test("the packed kernel is available on a CPU with AVX2 and FMA", (t) => {
  if (!hasAvx2Fma) {
    t.skip("this CPU has no AVX2 or no FMA: products take libtorch's path");
    return;
  }
  assert.equal(runtimeInfo().packedLinear, true);
});

test("products without gradients equal a float64 product at every tile and panel remainder", () => {
  manualSeed(3);
  scope(() =>
    noGrad(() => {
      for (const m of [1, 2, 3, 4, 5, 6, 7, 12, 13, 16])
        for (const [n, k] of [
          [1, 1],
          [16, 5],
          [17, 33],
          [40, 7],
        ] as const)
          for (const withBias of [true, false]) {
            const x = randn([m, k]);
            const w = randn([n, k]);
            const b = withBias ? randn([n]) : null;
            const y = linear(x, w, b);
            assert.deepEqual(y.shape, [m, n]);
            assertClose(y.toArray(), reference(x, w, b), `${m}x${k} · ${k}x${n}${withBias ? " + b" : ""}`);
          }
    }),
  );
});

test("an example's row of a product is the same bits whatever rows are beside it", () => {
  manualSeed(4);
  scope(() =>
    noGrad(() => {
      const x = randn([13, 29]);
      const w = randn([35, 29]);
      const b = randn([35]);
      const all = linear(x, w, b).toArray();
      for (let r = 0; r < 13; r++) {
        const alone = linear(x.narrow(0, r, 1).contiguous(), w, b).toArray();
        assert.deepEqual(alone, all.slice(r * 35, (r + 1) * 35), `row ${r}`);
      }
    }),
  );
});

test("a weight changed in place, or freed and replaced by another, is packed again", () => {
  manualSeed(5);
  scope(() =>
    noGrad(() => {
      const x = randn([4, 9]);
      const w = randn([20, 9]);
      linear(x, w).dispose();
      w.copy_(randn([20, 9]));
      assertClose(linear(x, w).toArray(), reference(x, w, null), "after copy_");
      for (let round = 0; round < 3; round++) {
        w.dispose();
        const next = randn([20, 9]);
        assertClose(linear(x, next).toArray(), reference(x, next, null), `replacement ${round}`);
      }
    }),
  );
});

test("a gathered product is the same bits as the product of the gathered rows (the same kernel)", () => {
  manualSeed(6);
  scope(() =>
    noGrad(() => {
      // Rows of 300: long enough sums that two kernels' orders of summation would differ.
      const memory = new StateMemory(10, 300);
      memory.write(new Int32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), randn([10, 300]));
      const rows = new Int32Array([7, 2, 2, 9, 0]);
      const layer = new Linear(new ParameterStore().root(), 300, 18);
      const viaGather = layer.forwardGathered([{ memory, rows, group: 1, start: 0, count: 300 }]).toArray();
      const gathered = memory.gather(rows, 1, 0, 300);
      assert.deepEqual(viaGather, linear(gathered, layer.weight, layer.bias).toArray());
    }),
  );
});

test("SPINN_PACKED_LINEAR=0 (libtorch's product) agrees to float32 rounding; products with gradients are the same bits", () => {
  const here = packedLinearProgram();
  const program = fileURLToPath(new URL("./packed-linear-program.js", import.meta.url));
  const child = spawnSync(process.execPath, [program], {
    encoding: "utf8",
    env: { ...process.env, SPINN_PACKED_LINEAR: "0" },
  });
  assert.equal(child.status, 0, child.stderr);
  const other = JSON.parse(child.stdout) as ReturnType<typeof packedLinearProgram> & {
    packedLinear: boolean;
  };
  assert.equal(other.packedLinear, false, "the child runs libtorch's product");
  assert.deepEqual(here.withGrad, other.withGrad, "products that need gradients");
  assert.deepEqual(here.weightGrad, other.weightGrad, "their gradients");
  here.noGrad.forEach((v, i) => {
    const u = other.noGrad[i]!;
    assert.ok(
      Math.abs(v - u) <= 1e-5 * Math.max(1, Math.abs(u)),
      `product without gradients [${i}]: ${v} vs ${u}`,
    );
  });
});
