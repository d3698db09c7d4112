// The thin stack's state memory: values, and gradients that match both a dense autograd
// formulation (index_copy into a full tensor at every step) and finite differences.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  cat,
  manualSeed,
  noGrad,
  randn,
  StateMemory,
  scope,
  type Tensor,
  tensor,
  zeros,
} from "../../src/engine/index.js";
import { assertFiniteDifferences } from "../finite-differences.js";

const rows = (...xs: number[]) => new Int32Array(xs);

/**
 * A small stack program: 3 leaves; reduce(0,1) -> row 3; reduce(3,2) -> row 4; output row 4 and
 * a re-read of leaf 0. `compose` stands for the TreeLSTM; reads and writes go through `mem`.
 */
function program(
  leaves: Tensor,
  w: Tensor,
  mem: { write(r: Int32Array, v: Tensor): void; read(r: Int32Array): Tensor },
) {
  const compose = (pair: Tensor) => pair.reshape(1, 4).matmul(w).tanh();
  mem.write(rows(0, 1, 2), leaves);
  mem.write(rows(3), compose(mem.read(rows(0, 1))));
  mem.write(rows(4), compose(mem.read(rows(3, 2))));
  return mem
    .read(rows(4, 0))
    .mul(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: "float64" },
      ),
    )
    .sum();
}

/** The same memory with stock autograd: a full tensor rebuilt by indexCopy at every write. */
class DenseMemory {
  m: Tensor = zeros([5, 2], { dtype: "float64" });
  write(r: Int32Array, v: Tensor) {
    this.m = this.m.indexCopy(0, tensor(r), v);
  }
  read(r: Int32Array) {
    return this.m.indexSelect(0, tensor(r));
  }
}

describe("StateMemory", () => {
  test("reads return what was written", () => {
    scope(() => {
      const mem = new StateMemory(4, 3);
      mem.write(
        rows(2, 0),
        tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      );
      assert.deepEqual(mem.read(rows(0, 2, 1)).toArray(), [4, 5, 6, 1, 2, 3, 0, 0, 0]);
    });
  });

  test("gradients equal the dense autograd formulation and finite differences", () => {
    manualSeed(5);
    scope(() => {
      const leaves = randn([3, 2], { dtype: "float64" }).setRequiresGrad();
      const w = randn([4, 2], { dtype: "float64" }).setRequiresGrad();
      const sparse = program(leaves, w, new StateMemory(5, 2, { dtype: "float64" }));
      sparse.backward();
      const gl = leaves.grad!.toArray();
      const gw = w.grad!.toArray();
      leaves.zeroGrad();
      w.zeroGrad();
      const dense = program(leaves, w, new DenseMemory());
      dense.backward();
      assert.ok(Math.abs(sparse.item() - dense.item()) < 1e-12);
      leaves.grad!.toArray().forEach((g, i) => assert.ok(Math.abs(g - gl[i]!) < 1e-12, `leaf grad ${i}`));
      w.grad!.toArray().forEach((g, i) => assert.ok(Math.abs(g - gw[i]!) < 1e-12, `w grad ${i}`));

      // finite differences on the leaves
      const base = leaves.toArray();
      const eps = 1e-6;
      const f = (vals: number[]) =>
        noGrad(() =>
          program(
            tensor(vals, { dtype: "float64", shape: [3, 2] }),
            w,
            new StateMemory(5, 2, { dtype: "float64" }),
          ).item(),
        );
      base.forEach((_, i) => {
        const up = [...base];
        const down = [...base];
        up[i]! += eps;
        down[i]! -= eps;
        const fd = (f(up) - f(down)) / (2 * eps);
        assert.ok(Math.abs(fd - gl[i]!) < 1e-7, `finite difference ${i}: ${fd} vs ${gl[i]}`);
      });
    });
  });

  test("gather equals read → narrow → reshape, in values and gradients (float64, and finite differences)", () => {
    manualSeed(6);
    scope(() => {
      // 4 leaves of width 4 ([h | c], 2 + 2); one composition from gathered h pairs and c's.
      const leaves = randn([4, 4], { dtype: "float64" }).setRequiresGrad();
      const w = randn([4, 4], { dtype: "float64" }).setRequiresGrad();
      const weights = tensor([1, -2, 3, 0.5], { dtype: "float64" });
      const run = (l: Tensor, fused: boolean) => {
        const mem = new StateMemory(6, 4, { dtype: "float64" });
        mem.write(rows(0, 1, 2, 3), l);
        const pairs = rows(0, 1, 2, 3); // (0, 1) and (2, 3)
        const hs = fused ? mem.gather(pairs, 2, 0, 2) : mem.read(pairs).narrow(1, 0, 2).reshape(2, 4);
        const cs = fused ? mem.gather(rows(1, 3), 1, 2, 2) : mem.read(rows(1, 3)).narrow(1, 2, 2);
        mem.write(
          rows(4, 5),
          hs
            .matmul(w)
            .tanh()
            .mul(cat([cs, cs], 1)),
        );
        const out = fused
          ? mem.gather(rows(4, 5, 0, 3), 2, 1, 2)
          : mem
              .read(rows(4, 5, 0, 3))
              .narrow(1, 1, 2)
              .reshape(2, 4);
        return out.mul(weights).sum();
      };
      const fused = run(leaves, true);
      fused.backward();
      const gl = leaves.grad!.toArray();
      const gw = w.grad!.toArray();
      leaves.zeroGrad();
      w.zeroGrad();
      const composed = run(leaves, false);
      composed.backward();
      assert.equal(fused.item(), composed.item());
      leaves.grad!.toArray().forEach((g, i) => assert.ok(Math.abs(g - gl[i]!) < 1e-12, `leaf grad ${i}`));
      w.grad!.toArray().forEach((g, i) => assert.ok(Math.abs(g - gw[i]!) < 1e-12, `w grad ${i}`));
      const base = leaves.toArray();
      const eps = 1e-6;
      const f = (vals: number[]) =>
        noGrad(() => run(tensor(vals, { dtype: "float64", shape: [4, 4] }), true).item());
      base.forEach((_, i) => {
        const up = [...base];
        const down = [...base];
        up[i]! += eps;
        down[i]! -= eps;
        const fd = (f(up) - f(down)) / (2 * eps);
        assert.ok(Math.abs(fd - gl[i]!) < 1e-7, `finite difference ${i}: ${fd} vs ${gl[i]}`);
      });
    });
  });

  test("gatherParts = the parts' gathers side by side, from two memories (values and gradients bitwise in float64; finite differences)", () => {
    manualSeed(8);
    scope(() => {
      // Memory a: 4 leaves of width 4; memory b (the tracker's, say): 2 rows of width 2. Each
      // output row: a pair of a's rows cut to columns [0, 2), a b row, an a row cut to [2, 4).
      const la = randn([4, 4], { dtype: "float64" }).setRequiresGrad();
      const lb = randn([2, 2], { dtype: "float64" }).setRequiresGrad();
      const w = randn([8, 4], { dtype: "float64" });
      const weights = randn([2, 8], { dtype: "float64" });
      const run = (fused: boolean) => {
        const a = new StateMemory(6, 4, { dtype: "float64" });
        const b = new StateMemory(3, 2, { dtype: "float64" });
        a.write(rows(0, 1, 2, 3), la);
        b.write(rows(1, 2), lb);
        const parts = (r: number[][]) => [
          { memory: a, rows: rows(...r[0]!), group: 2, start: 0, count: 2 },
          { memory: b, rows: rows(...r[1]!), group: 1, start: 0, count: 2 },
          { memory: a, rows: rows(...r[2]!), group: 1, start: 2, count: 2 },
        ];
        const gather = (ps: ReturnType<typeof parts>) =>
          fused
            ? StateMemory.gatherParts(ps)
            : cat(
                ps.map((p) => p.memory.gather(p.rows, p.group, p.start, p.count)),
                1,
              );
        // Rows read twice (their gradients add up), b's zero row 0, a row written after a read.
        const x = gather(
          parts([
            [0, 1, 2, 1],
            [1, 0],
            [3, 3],
          ]),
        ); // 2 × 8
        a.write(rows(4, 5), x.matmul(w).tanh());
        const y = gather(
          parts([
            [4, 5, 0, 4],
            [2, 2],
            [5, 1],
          ]),
        );
        return y.mul(weights).sum().add(x.square().sum());
      };
      const grads = (fused: boolean) => {
        la.zeroGrad();
        lb.zeroGrad();
        const loss = run(fused);
        loss.backward();
        return [loss, la.grad!.clone(), lb.grad!.clone()];
      };
      const composed = grads(false);
      const fused = grads(true);
      fused.forEach((t, k) => assert.equal(t.sub(composed[k]!).abs().max().item(), 0, `result ${k}`));
      const loss = () => noGrad(() => run(true).item());
      assertFiniteDifferences(la, fused[1]!, loss, "memory a's leaves");
      assertFiniteDifferences(lb, fused[2]!, loss, "memory b's leaves");
    });
  });

  test("gatherParts checks that its parts agree", () => {
    scope(() => {
      const a = new StateMemory(3, 4);
      const b = new StateMemory(3, 4, { dtype: "float64" });
      const part = (memory: StateMemory, r: Int32Array) => ({
        memory,
        rows: r,
        group: 1,
        start: 0,
        count: 2,
      });
      assert.throws(
        () => StateMemory.gatherParts([part(a, rows(0, 1)), part(a, rows(0))]),
        /part 1 makes 1 rows, part 0 2/,
      );
      assert.throws(
        () => StateMemory.gatherParts([part(a, rows(0)), part(b, rows(0))]),
        /one dtype and device/,
      );
      assert.throws(() => StateMemory.gatherParts([]), /7 arguments per part/);
    });
  });

  test("gather checks its groups and columns", () => {
    scope(() => {
      const mem = new StateMemory(3, 4);
      assert.throws(() => mem.gather(rows(0, 1, 2), 2, 0, 2), /do not make groups of 2/);
      assert.throws(() => mem.gather(rows(0), 1, 3, 2), /outside the memory's 4/);
      assert.throws(() => mem.gather(rows(3), 1, 0, 2), /outside the state memory's 3 rows/);
    });
  });

  test("bad rows and shapes are clear errors", () => {
    scope(() => {
      const mem = new StateMemory(2, 3);
      assert.throws(() => mem.read(rows(2)), /row 2 \(position 0\) is outside the state memory's 2 rows/);
      assert.throws(() => mem.read(rows(-1)), /outside/);
      assert.throws(() => mem.write(rows(0), zeros([2, 3])), /value must be 1 x 3/);
      const n = mem as unknown as { read(r: unknown): Tensor };
      assert.throws(() => n.read([0]), /expected an Int32Array/);
    });
  });
});
