// BatchedLinear: a linear layer applied at several steps whose weight gradient is taken once per
// chunk of steps in the backward pass. Values and every gradient equal calling linear() at each
// step, including chained steps (a step's input is an earlier step's output), unused steps, and
// steps spread over several chunks.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BatchedLinear,
  cat,
  type GatherPart,
  Linear,
  linear,
  manualSeed,
  noGrad,
  ParameterStore,
  randn,
  StateMemory,
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

const rows = (...xs: number[]) => new Int32Array(xs);

/**
 * Three steps over two state memories, as SPINN's products read them: each step's input is
 * [2 rows of A, columns 0..2 | 1 row of B, columns 1..3]; the first step's output is written to
 * A and read by the later steps. apply(parts, x): the product of the gathered input (x() gathers it
 * as separate gathers side by side).
 */
function gatheredProgram(
  leafA: Tensor,
  leafB: Tensor,
  apply: (parts: GatherPart[], x: () => Tensor) => Tensor,
): Tensor {
  const opts = { dtype: "float64" as const };
  const A = new StateMemory(7, 4, opts);
  const B = new StateMemory(4, 3, opts);
  A.write(rows(0, 1, 2, 3, 4), leafA);
  B.write(rows(0, 1, 2, 3), leafB);
  const step = (ra: Int32Array, rb: Int32Array) => {
    const parts: GatherPart[] = [
      { memory: A, rows: ra, group: 2, start: 0, count: 2 },
      { memory: B, rows: rb, group: 1, start: 1, count: 2 },
    ];
    return apply(parts, () => cat([A.gather(ra, 2, 0, 2), B.gather(rb, 1, 1, 2)], 1));
  };
  const y1 = step(rows(0, 1, 2, 3), rows(0, 1)); // 2 rows
  A.write(rows(5, 6), y1.tanh());
  const y2 = step(rows(5, 0, 6, 4, 1, 5), rows(2, 3, 0)); // 3 rows, two of them read y1
  const y3 = step(rows(6, 6), rows(1)); // 1 row
  return y1.sum().add(y2.square().sum()).add(y3.mul(y3.sigmoid()).sum());
}

test("gathered inputs: values and gradients equal per-step linear(), with and without bias, in one chunk or several", () => {
  for (const [withBias, chunkRows] of [
    [true, 10],
    [false, 10],
    [true, 2],
  ] as const) {
    scope(() => {
      manualSeed(6);
      const opts = { dtype: "float64" as const, requiresGrad: true };
      const w = randn([4, 6], opts);
      const bias = withBias ? randn([4], opts) : null;
      const leafA = randn([5, 4], opts);
      const leafB = randn([4, 3], opts);
      const params = [w, ...(bias ? [bias] : []), leafA, leafB];
      const stock = gatheredProgram(leafA, leafB, (_, x) => linear(x(), w, bias));
      stock.backward();
      const expected = params.map((t) => t.grad!.clone());
      for (const t of params) t.zeroGrad();
      const batched = new BatchedLinear(w, bias, 6, chunkRows);
      const value = gatheredProgram(leafA, leafB, (parts) => batched.forwardGathered(parts));
      assert.ok(Math.abs(value.item() - stock.item()) < 1e-12);
      value.backward();
      params.forEach((t, k) => {
        assert.ok(
          maxDiff(t.grad!, expected[k]!) < 1e-12,
          `gradient ${k} (bias ${withBias}, chunks of ${chunkRows})`,
        );
      });
    });
  }
});

test("gathered inputs in one call without the pass's bookkeeping: BatchedLinear without gradients, Linear.forwardGathered with them, the same bits as linear() of the separate gathers", () => {
  scope(() => {
    manualSeed(9);
    const opts = { dtype: "float64" as const, requiresGrad: true };
    const store = new ParameterStore({ dtype: "float64" });
    const layer = new Linear(store.root(), 6, 4);
    const [w, bias] = [layer.weight, layer.bias!];
    const leafA = randn([5, 4], opts);
    const leafB = randn([4, 3], opts);
    const stock = (_: GatherPart[], x: () => Tensor) => linear(x(), w, bias);
    const fused = (parts: GatherPart[]) => layer.forwardGathered(parts);
    const results = (apply: typeof stock) => {
      for (const t of [w, bias, leafA, leafB]) t.zeroGrad();
      const value = gatheredProgram(leafA, leafB, apply);
      value.backward();
      return [value, w.grad!.clone(), bias.grad!.clone(), leafA.grad!.clone(), leafB.grad!.clone()];
    };
    const expected = results(stock);
    results(fused).forEach((t, k) =>
      assert.equal(maxDiff(t, expected[k]!), 0, `Linear.forwardGathered: result ${k}`),
    );
    const batched = noGrad(() => {
      const product = new BatchedLinear(w, bias, 6);
      return gatheredProgram(leafA, leafB, (parts) => product.forwardGathered(parts));
    });
    assert.equal(batched.item(), expected[0]!.item(), "BatchedLinear without gradients");
  });
});

test("gathered inputs: a pass keeps one kind of input and one set of memories", () => {
  scope(() => {
    const w = randn([2, 3], { requiresGrad: true });
    const memory = new StateMemory(4, 3);
    const other = new StateMemory(4, 3);
    const part = (m: StateMemory, r: Int32Array): GatherPart[] => [
      { memory: m, rows: r, group: 1, start: 0, count: 3 },
    ];
    const b = new BatchedLinear(w, null, 10);
    b.forwardGathered(part(memory, rows(0, 1)));
    assert.throws(() => b.forward(randn([1, 3])), /forward\(\) or forwardGathered\(\), not both/);
    assert.throws(() => b.forwardGathered(part(other, rows(2))), /the same memories at every step/);
  });
});
