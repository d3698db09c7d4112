// BatchedLinear: a linear layer applied at several steps whose weight gradient is taken once per
// chunk of steps in the backward pass. Values and every gradient equal calling linear() at each
// step, including chained steps (a step's input is an earlier step's output), unused steps, and
// steps spread over several chunks.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BatchedLinear,
  linear,
  manualSeed,
  noGrad,
  randn,
  scope,
  type Tensor,
} from "../../src/engine/index.js";

function maxDiff(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().item();
}

/** Four steps: two from fresh inputs, one chained on an earlier output, one whose output is unused. */
function program(apply: (x: Tensor) => Tensor, xs: Tensor[]): Tensor {
  const a = apply(xs[0]!).tanh();
  const b = apply(xs[1]!);
  const c = apply(a.narrow(0, 0, 2).mul(0.5)); // chained: rows of an earlier step's output
  apply(xs[2]!); // unused: its rows get no gradient
  return a.sum().add(b.square().sum()).add(c.mul(c.sigmoid()).sum());
}

test("values and gradients equal per-step linear(), with and without bias, in one chunk or several", () => {
  // Chunks of 20 rows hold every step; of 5, new chunks start at the 2nd and 4th steps (4, 2 + 2,
  // 5 rows); of 3, at every step, and steps larger than a chunk get a chunk of their size.
  for (const [withBias, chunkRows] of [
    [true, 20],
    [false, 20],
    [true, 5],
    [false, 3],
  ] as const) {
    scope(() => {
      manualSeed(4);
      const opts = { dtype: "float64" as const, requiresGrad: true };
      const w = randn([3, 3], opts);
      const bias = withBias ? randn([3], opts) : null;
      const xs = [randn([4, 3], opts), randn([2, 3], opts), randn([5, 3], opts)];
      const grads = () => [w, ...(bias ? [bias] : []), ...xs].map((t) => t.grad?.clone() ?? null);
      const zero = () => {
        for (const t of [w, ...(bias ? [bias] : []), ...xs]) t.zeroGrad();
      };

      const stock = program((x) => linear(x, w, bias), xs);
      stock.backward();
      const expected = grads();
      zero();
      // 4 + 2 + 2 + 5 = 13 rows are used; room for 20.
      const batched = new BatchedLinear(w, bias, 20, chunkRows);
      const value = program((x) => batched.forward(x), xs);
      assert.ok(Math.abs(value.item() - stock.item()) < 1e-12);
      value.backward();
      assert.equal(expected.at(-1), null); // the unused step's input has no gradient
      grads().forEach((g, k) => {
        const e = expected[k]!;
        if (e === null) assert.equal(g, null);
        else
          assert.ok(g && maxDiff(g, e) < 1e-12, `gradient ${k} (bias ${withBias}, chunks of ${chunkRows})`);
      });
    });
  }
});

test("without gradients it is plain linear(); too many rows is an error", () => {
  scope(() => {
    const w = randn([2, 3], { requiresGrad: true });
    const x = randn([4, 3]);
    noGrad(() => {
      const b = new BatchedLinear(w, null, 1); // no buffers without gradients: any row count
      assert.ok(maxDiff(b.forward(x), linear(x, w)) === 0);
    });
    const b = new BatchedLinear(w, null, 5);
    b.forward(x);
    assert.throws(() => b.forward(x), /8 rows used, but it was made for 5/);
  });
});
