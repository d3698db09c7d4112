// Op results against hand-computed values (or tiny plain-JS reference loops), one op family a test.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  addmm,
  arange,
  batchNorm,
  bernoulli,
  cat,
  crossEntropy,
  dropout,
  embedding,
  full,
  getRngState,
  layerNorm,
  linear,
  manualSeed,
  multinomial,
  nllLoss,
  ones,
  rand,
  randn,
  scope,
  setRngState,
  stack,
  type Tensor,
  tensor,
  where,
  zeros,
  zerosLike,
} from "../../src/engine/index.js";

/** Elementwise |a - e| <= tol * (1 + |e|). */
function close(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-6, what = ""): void {
  assert.equal(actual.length, expected.length, `${what} length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${what} element ${i}: got ${a}, expected ${e}`);
  }
}

/** Checks shape and values (as numbers) of a tensor. */
function expectT(t: Tensor, shape: readonly number[], values: readonly number[], tol = 1e-6): void {
  assert.deepEqual([...t.shape], [...shape], "shape");
  close(t.toArray(), values, tol);
}

const f64 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: "float64" });
const i64 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: "int64" });

// A 2 × 3 and a 2 × 3 × 4 tensor of 0, 1, 2, ... used by the shape tests.
const A23 = [
  [0, 1, 2],
  [3, 4, 5],
];
const seq = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("elementwise arithmetic", () => {
  test("[2,3] op [3] broadcasts the row over every row", () => {
    scope(() => {
      const a = f64([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const b = f64([10, 20, 40]);
      expectT(a.add(b), [2, 3], [11, 22, 43, 14, 25, 46]);
      expectT(a.sub(b), [2, 3], [-9, -18, -37, -6, -15, -34]);
      expectT(a.mul(b), [2, 3], [10, 40, 120, 40, 100, 240]);
      expectT(a.div(b), [2, 3], [0.1, 0.1, 0.075, 0.4, 0.25, 0.15]);
      expectT(b.sub(a), [2, 3], [9, 18, 37, 6, 15, 34]);
    });
  });

  test("[2,1] op [1,3] broadcasts to [2,3]", () => {
    scope(() => {
      const c = f64([[1], [2]]);
      const r = f64([[3, 4, 5]]);
      expectT(c.mul(r), [2, 3], [3, 4, 5, 6, 8, 10]);
      expectT(c.add(r), [2, 3], [4, 5, 6, 5, 6, 7]);
      expectT(c.sub(r), [2, 3], [-2, -3, -4, -1, -2, -3]);
      expectT(c.div(r), [2, 3], [1 / 3, 1 / 4, 1 / 5, 2 / 3, 2 / 4, 2 / 5]);
      // a scalar-shaped tensor broadcasts against anything
      expectT(r.mul(f64(2)), [1, 3], [6, 8, 10]);
    });
  });

  test("float32 results are float32 and exact where representable", () => {
    scope(() => {
      const s = tensor([1.5, -2]).add(tensor([0.25, 4]));
      assert.equal(s.dtype, "float32");
      assert.deepEqual(Array.from(s.data<"float32">()), [1.75, 2]);
    });
  });

  test("scalar forms: add, sub, mul, div, rsub", () => {
    scope(() => {
      const a = f64([1, -2, 3.5]);
      expectT(a.add(1.5), [3], [2.5, -0.5, 5]);
      expectT(a.sub(2), [3], [-1, -4, 1.5]);
      expectT(a.mul(-3), [3], [-3, 6, -10.5]);
      expectT(a.div(4), [3], [0.25, -0.5, 0.875]);
      expectT(a.rsub(10), [3], [9, 12, 6.5]);
      assert.equal(a.add(1).dtype, "float64");
    });
  });

  test("an int64 tensor with a number operand stays int64, as in PyTorch", () => {
    scope(() => {
      const a = arange(3);
      for (const t of [a.add(1), a.sub(1), a.mul(2), a.rsub(1)]) assert.equal(t.dtype, "int64");
    });
  });

  test("pow, sqrt, abs, square, neg", () => {
    scope(() => {
      const a = f64([1, 4, 9, 2]);
      expectT(a.pow(2), [4], [1, 16, 81, 4]);
      expectT(a.pow(0.5), [4], [1, 2, 3, Math.SQRT2]);
      expectT(a.pow(-1), [4], [1, 0.25, 1 / 9, 0.5]);
      expectT(a.pow(3), [4], [1, 64, 729, 8]);
      expectT(a.sqrt(), [4], [1, 2, 3, Math.SQRT2]);
      const b = f64([-1.5, 0, 2, -3]);
      expectT(b.abs(), [4], [1.5, 0, 2, 3]);
      expectT(b.square(), [4], [2.25, 0, 4, 9]);
      expectT(b.neg(), [4], [1.5, 0, -2, 3]);
      assert.ok(Number.isNaN(f64([-1]).sqrt().item()));
    });
  });

  test("activations and exp/log", () => {
    scope(() => {
      const xs = [-2, -0.5, 0, 0.5, 3];
      const x = f64(xs);
      expectT(
        x.sigmoid(),
        [5],
        xs.map((v) => 1 / (1 + Math.exp(-v))),
        1e-12,
      );
      close(x.sigmoid().toArray().slice(2, 3), [0.5], 0);
      expectT(x.tanh(), [5], xs.map(Math.tanh), 1e-12);
      expectT(x.relu(), [5], [0, 0, 0, 0.5, 3]);
      expectT(x.exp(), [5], xs.map(Math.exp), 1e-12);
      expectT(f64([1, Math.E, 10, 0.5]).log(), [4], [0, 1, Math.LN10, -Math.LN2], 1e-12);
      assert.equal(f64([0]).log().item(), Number.NEGATIVE_INFINITY);
      // float32 too
      expectT(tensor([0, 1]).sigmoid(), [2], [0.5, 1 / (1 + Math.exp(-1))]);
    });
  });

  test("clamp, maximum, minimum (with broadcasting)", () => {
    scope(() => {
      const x = f64([-3, -1, 0.5, 2, 7]);
      expectT(x.clamp(-1, 2), [5], [-1, -1, 0.5, 2, 2]);
      const a = f64([
        [1, 5],
        [-2, 8],
      ]);
      const b = f64([3, 4]);
      expectT(a.maximum(b), [2, 2], [3, 5, 3, 8]);
      expectT(a.minimum(b), [2, 2], [1, 4, -2, 4]);
    });
  });
});

describe("comparisons and logic", () => {
  test("tensor comparisons give bool tensors (with broadcasting)", () => {
    scope(() => {
      const a = f64([1, 2, 3, 4]);
      const b = f64([4, 2, 1, 4]);
      const cases: [Tensor, number[]][] = [
        [a.eq(b), [0, 1, 0, 1]],
        [a.ne(b), [1, 0, 1, 0]],
        [a.lt(b), [1, 0, 0, 0]],
        [a.le(b), [1, 1, 0, 1]],
        [a.gt(b), [0, 0, 1, 0]],
        [a.ge(b), [0, 1, 1, 1]],
      ];
      for (const [t, want] of cases) {
        assert.equal(t.dtype, "bool");
        assert.ok(t.data() instanceof Uint8Array);
        assert.deepEqual(Array.from(t.data<"bool">()), want);
      }
      const m = f64([[1], [3]]).lt(f64([2, 3, 4]));
      assert.equal(m.dtype, "bool");
      expectT(m, [2, 3], [1, 1, 1, 0, 0, 1]);
    });
  });

  test("scalar comparisons eq/lt/gt", () => {
    scope(() => {
      const a = i64([1, 2, 3]);
      for (const t of [a.eq(2), a.lt(2), a.gt(2)]) assert.equal(t.dtype, "bool");
      expectT(a.eq(2), [3], [0, 1, 0]);
      expectT(a.lt(2), [3], [1, 0, 0]);
      expectT(a.gt(2), [3], [0, 0, 1]);
      expectT(f64([0.5, 1.5]).gt(1), [2], [0, 1]);
    });
  });

  test("logicalAnd, logicalOr, logicalNot", () => {
    scope(() => {
      const p = tensor([true, true, false, false], { dtype: "bool" });
      const q = tensor([true, false, true, false], { dtype: "bool" });
      for (const t of [p.logicalAnd(q), p.logicalOr(q), p.logicalNot()]) assert.equal(t.dtype, "bool");
      expectT(p.logicalAnd(q), [4], [1, 0, 0, 0]);
      expectT(p.logicalOr(q), [4], [1, 1, 1, 0]);
      expectT(p.logicalNot(), [4], [0, 0, 1, 1]);
      // non-bool operands count as true when non-zero
      expectT(f64([0, 2, -1]).logicalNot(), [3], [1, 0, 0]);
    });
  });

  test("where and maskedFill (with broadcasting)", () => {
    scope(() => {
      const cond = tensor([true, false, true], { dtype: "bool" });
      const a = f64([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const b = f64([[-1], [-2]]);
      expectT(where(cond, a, b), [2, 3], [1, -1, 3, 4, -2, 6]);
      expectT(a.maskedFill(cond, 9), [2, 3], [9, 2, 9, 9, 5, 9]);
      const m2 = a.gt(3.5);
      expectT(
        a.maskedFill(m2, -Number.MAX_VALUE),
        [2, 3],
        [1, 2, 3, -Number.MAX_VALUE, -Number.MAX_VALUE, -Number.MAX_VALUE],
      );
      // maskedFill does not touch its input
      expectT(a, [2, 3], [1, 2, 3, 4, 5, 6]);
    });
  });
});

/** Plain-JS row-major matrix product of an (n × k) by a (k × m). */
function refMatmul(a: number[], b: number[], n: number, k: number, m: number): number[] {
  const out = new Array<number>(n * m).fill(0);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) for (let l = 0; l < k; l++) out[i * m + j]! += a[i * k + l]! * b[l * m + j]!;
  return out;
}

describe("linear algebra", () => {
  test("mm and matmul of matrices, and matmul of a matrix by a vector", () => {
    scope(() => {
      const a = f64([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const b = f64([
        [7, 8],
        [9, 10],
        [11, 12],
      ]);
      // [1·7+2·9+3·11, 1·8+2·10+3·12; 4·7+5·9+6·11, 4·8+5·10+6·12]
      expectT(a.mm(b), [2, 2], [58, 64, 139, 154]);
      expectT(a.matmul(b), [2, 2], [58, 64, 139, 154]);
      expectT(a.matmul(f64([1, 0, -1])), [2], [-2, -2]);
      expectT(f64([1, 1]).matmul(a), [3], [5, 7, 9]);
      expectT(f64([1, 2, 3]).matmul(f64([4, 5, 6])), [], [32]);
      // float32 path
      expectT(tensor([[1, 2]]).mm(tensor([[3], [4]])), [1, 1], [11]);
    });
  });

  test("bmm and batched matmul with broadcasting", () => {
    scope(() => {
      const av = seq(12).map((v) => v - 5);
      const bv = seq(12).map((v) => (v % 5) - 2);
      const a = tensor(new Float64Array(av), { shape: [2, 2, 3] });
      const b = tensor(new Float64Array(bv), { shape: [2, 3, 2] });
      const want = [
        ...refMatmul(av.slice(0, 6), bv.slice(0, 6), 2, 3, 2),
        ...refMatmul(av.slice(6), bv.slice(6), 2, 3, 2),
      ];
      expectT(a.bmm(b), [2, 2, 2], want);
      expectT(a.matmul(b), [2, 2, 2], want);
      // [2,2,3] @ [3,2] broadcasts the matrix over the batch
      const m = bv.slice(0, 6);
      const wantB = [...refMatmul(av.slice(0, 6), m, 2, 3, 2), ...refMatmul(av.slice(6), m, 2, 3, 2)];
      expectT(a.matmul(tensor(new Float64Array(m), { shape: [3, 2] })), [2, 2, 2], wantB);
    });
  });

  test("linear (with and without bias) and addmm", () => {
    scope(() => {
      const x = f64([
        [1, 2, 3],
        [-1, 0, 2],
      ]);
      const w = f64([
        [1, 0, -1],
        [2, 1, 0.5],
      ]); // out × in
      const bias = f64([10, -10]);
      // x Wᵀ = [[1-3, 2+2+1.5], [-1-2, -2+0+1]] = [[-2, 5.5], [-3, -1]]
      expectT(linear(x, w), [2, 2], [-2, 5.5, -3, -1]);
      expectT(linear(x, w, null), [2, 2], [-2, 5.5, -3, -1]);
      expectT(linear(x, w, bias), [2, 2], [8, -4.5, 7, -11]);
      // linear of a 1-d input and of a 3-d input
      expectT(linear(f64([1, 2, 3]), w, bias), [2], [8, -4.5]);
      expectT(linear(x.unsqueeze(0), w, bias), [1, 2, 2], [8, -4.5, 7, -11]);
      // addmm: bias + a b, bias broadcast over rows
      expectT(addmm(bias, x, w.t()), [2, 2], [8, -4.5, 7, -11]);
      expectT(addmm(f64([[1], [2]]), x, w.t()), [2, 2], [-1, 6.5, -1, 1]);
    });
  });
});

describe("shape ops", () => {
  test("reshape, flatten, squeeze, unsqueeze", () => {
    scope(() => {
      const a = f64(A23);
      expectT(a.reshape(3, 2), [3, 2], seq(6));
      expectT(a.reshape(-1), [6], seq(6));
      expectT(a.reshape(1, -1, 2), [1, 3, 2], seq(6));
      const c = tensor(new Float64Array(seq(24)), { shape: [2, 3, 4] });
      expectT(c.flatten(), [24], seq(24));
      expectT(c.flatten(1), [2, 12], seq(24));
      expectT(c.flatten(0, 1), [6, 4], seq(24));
      expectT(a.unsqueeze(0), [1, 2, 3], seq(6));
      expectT(a.unsqueeze(1), [2, 1, 3], seq(6));
      expectT(a.unsqueeze(-1), [2, 3, 1], seq(6));
      expectT(a.unsqueeze(1).squeeze(1), [2, 3], seq(6));
      // squeezing a dimension that is not 1 is a no-op, as in PyTorch
      expectT(a.squeeze(0), [2, 3], seq(6));
    });
  });

  test("transpose, t, permute, contiguous", () => {
    scope(() => {
      const a = f64(A23);
      expectT(a.t(), [3, 2], [0, 3, 1, 4, 2, 5]);
      expectT(a.transpose(0, 1), [3, 2], [0, 3, 1, 4, 2, 5]);
      expectT(a.transpose(-1, -2).contiguous(), [3, 2], [0, 3, 1, 4, 2, 5]);
      // reshape of a transposed (non-contiguous) view
      expectT(a.t().reshape(6), [6], [0, 3, 1, 4, 2, 5]);
      const c = tensor(new Float64Array(seq(24)), { shape: [2, 3, 4] });
      // out[k][i][j] = c[i][j][k] = 12i + 4j + k
      const want: number[] = [];
      for (let k = 0; k < 4; k++)
        for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) want.push(12 * i + 4 * j + k);
      expectT(c.permute(2, 0, 1), [4, 2, 3], want);
      const want2: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) want2.push(12 * i + 4 * j + k);
      expectT(c.transpose(1, 2), [2, 4, 3], want2);
    });
  });

  test("narrow, select, expand", () => {
    scope(() => {
      const c = tensor(new Float64Array(seq(24)), { shape: [2, 3, 4] });
      expectT(c.narrow(2, 1, 2), [2, 3, 2], [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22]);
      expectT(
        c.narrow(0, 1, 1),
        [1, 3, 4],
        seq(12).map((v) => v + 12),
      );
      expectT(c.select(1, 2), [2, 4], [8, 9, 10, 11, 20, 21, 22, 23]);
      expectT(c.select(0, -1).select(0, 0), [4], [12, 13, 14, 15]);
      expectT(f64([1, 2, 3]).expand(2, 3), [2, 3], [1, 2, 3, 1, 2, 3]);
      expectT(f64([[1], [2]]).expand(2, 3), [2, 3], [1, 1, 1, 2, 2, 2]);
      expectT(f64([[1], [2]]).expand(-1, 2), [2, 2], [1, 1, 2, 2]);
      expectT(f64([5]).expand(2, 2, 2), [2, 2, 2], new Array(8).fill(5));
    });
  });

  test("cat and stack", () => {
    scope(() => {
      const a = f64(A23);
      const b = f64([[6, 7, 8]]);
      expectT(cat([a, b]), [3, 3], seq(9));
      expectT(cat([a, f64([[9], [10]])], 1), [2, 4], [0, 1, 2, 9, 3, 4, 5, 10]);
      expectT(cat([a, a], -1), [2, 6], [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
      const x = f64([1, 2]);
      const y = f64([3, 4]);
      expectT(stack([x, y]), [2, 2], [1, 2, 3, 4]);
      expectT(stack([x, y], 1), [2, 2], [1, 3, 2, 4]);
      expectT(stack([x, y, x], -1), [2, 3], [1, 3, 1, 2, 4, 2]);
      expectT(stack([a, a], 1), [2, 2, 3], [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
    });
  });

  test("split by size and by sizes, chunk", () => {
    scope(() => {
      const v = f64(seq(5));
      const bySize = v.split(2);
      assert.equal(bySize.length, 3);
      expectT(bySize[0]!, [2], [0, 1]);
      expectT(bySize[1]!, [2], [2, 3]);
      expectT(bySize[2]!, [1], [4]);
      const bySizes = v.split([1, 3, 1]);
      assert.deepEqual(
        bySizes.map((t) => t.toArray()),
        [[0], [1, 2, 3], [4]],
      );
      const m = tensor(new Float64Array(seq(12)), { shape: [3, 4] });
      const cols = m.split([3, 1], 1);
      expectT(cols[0]!, [3, 3], [0, 1, 2, 4, 5, 6, 8, 9, 10]);
      expectT(cols[1]!, [3, 1], [3, 7, 11]);
      const rows = m.split(1, 0);
      assert.equal(rows.length, 3);
      expectT(rows[2]!, [1, 4], [8, 9, 10, 11]);
      const ch = v.chunk(3);
      assert.deepEqual(
        ch.map((t) => t.toArray()),
        [[0, 1], [2, 3], [4]],
      );
      const ch2 = m.chunk(2, 1);
      assert.equal(ch2.length, 2);
      expectT(ch2[0]!, [3, 2], [0, 1, 4, 5, 8, 9]);
      expectT(ch2[1]!, [3, 2], [2, 3, 6, 7, 10, 11]);
      // more chunks than elements: as many pieces as there are elements
      assert.equal(f64([1, 2]).chunk(4).length, 2);
    });
  });
});

describe("indexing", () => {
  test("indexSelect along rows and columns", () => {
    scope(() => {
      const m = tensor(new Float64Array(seq(12)), { shape: [3, 4] });
      expectT(m.indexSelect(0, i64([2, 0, 2])), [3, 4], [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]);
      expectT(m.indexSelect(1, i64([3, 1])), [3, 2], [3, 1, 7, 5, 11, 9]);
      expectT(m.indexSelect(1, tensor(new Int32Array([0]))), [3, 1], [0, 4, 8]);
    });
  });

  test("gather", () => {
    scope(() => {
      const m = f64([
        [10, 11, 12],
        [20, 21, 22],
      ]);
      // out[i][j] = m[i][idx[i][j]]
      expectT(
        m.gather(
          1,
          i64([
            [2, 0],
            [1, 1],
          ]),
        ),
        [2, 2],
        [12, 10, 21, 21],
      );
      // out[i][j] = m[idx[i][j]][j]
      expectT(m.gather(0, i64([[1, 0, 1]])), [1, 3], [20, 11, 22]);
    });
  });

  test("scatterAdd accumulates duplicates and leaves its input alone", () => {
    scope(() => {
      const base = f64([
        [1, 1, 1],
        [2, 2, 2],
      ]);
      const idx = i64([
        [0, 2, 0],
        [1, 1, 1],
      ]);
      const src = f64([
        [5, 6, 7],
        [8, 9, 10],
      ]);
      // out[i][idx[i][j]] += src[i][j]
      expectT(base.scatterAdd(1, idx, src), [2, 3], [1 + 5 + 7, 1, 1 + 6, 2, 2 + 8 + 9 + 10, 2]);
      expectT(base, [2, 3], [1, 1, 1, 2, 2, 2]);
      // along dim 0: out[idx[i][j]][j] += src[i][j]
      const idx0 = i64([
        [1, 0, 1],
        [1, 1, 0],
      ]);
      expectT(base.scatterAdd(0, idx0, src), [2, 3], [1, 1 + 6, 1 + 10, 2 + 5 + 8, 2 + 9, 2 + 7]);
    });
  });

  test("indexAdd and indexCopy", () => {
    scope(() => {
      const base = zeros([4, 2], { dtype: "float64" });
      const src = f64([
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
      expectT(base.indexAdd(0, i64([3, 0, 3]), src), [4, 2], [3, 4, 0, 0, 0, 0, 1 + 5, 2 + 6]);
      const b2 = f64([
        [1, 1, 1],
        [1, 1, 1],
      ]);
      expectT(
        b2.indexAdd(
          1,
          i64([2, 0]),
          f64([
            [10, 20],
            [30, 40],
          ]),
        ),
        [2, 3],
        [21, 1, 11, 41, 1, 31],
      );
      const full9 = full([4, 2], 9, { dtype: "float64" });
      expectT(full9.indexCopy(0, i64([2, 0, 1]), src), [4, 2], [3, 4, 5, 6, 1, 2, 9, 9]);
      expectT(full9, [4, 2], new Array(8).fill(9));
      expectT(b2.indexCopy(1, i64([1]), f64([[7], [8]])), [2, 3], [1, 7, 1, 1, 8, 1]);
    });
  });

  test("embedding picks rows for any index shape", () => {
    scope(() => {
      const w = f64([
        [0, 0.5],
        [1, 1.5],
        [2, 2.5],
      ]);
      expectT(embedding(w, i64([2, 0, 2])), [3, 2], [2, 2.5, 0, 0.5, 2, 2.5]);
      expectT(
        embedding(
          w,
          i64([
            [1, 2],
            [0, 1],
          ]),
        ),
        [2, 2, 2],
        [1, 1.5, 2, 2.5, 0, 0.5, 1, 1.5],
      );
      // paddingIdx only changes gradients, not values
      expectT(embedding(w, i64([1]), 1), [1, 2], [1, 1.5]);
    });
  });
});

describe("reductions", () => {
  const M = [
    [1, -2, 3],
    [4, 0, -6],
  ];

  test("sum and mean: all, per dim, keepdim, several dims", () => {
    scope(() => {
      const m = f64(M);
      expectT(m.sum(), [], [0]);
      expectT(m.sum(0), [3], [5, -2, -3]);
      expectT(m.sum(1), [2], [2, -2]);
      expectT(m.sum(1, true), [2, 1], [2, -2]);
      expectT(m.sum(-1, true), [2, 1], [2, -2]);
      expectT(m.sum([0, 1]), [], [0]);
      expectT(m.sum([0, 1], true), [1, 1], [0]);
      expectT(f64([1.5, 2.5]).mean(), [], [2]);
      expectT(m.mean(), [], [0]);
      expectT(m.mean(0), [3], [2.5, -1, -1.5]);
      expectT(m.mean(1, true), [2, 1], [2 / 3, -2 / 3]);
      expectT(m.mean([0, 1], true), [1, 1], [0]);
      // int64 sums stay integral
      const s = i64([1, 2, 3]).sum();
      assert.equal(s.dtype, "int64");
      assert.equal(s.item(), 6);
    });
  });

  test("max, maxAlong (values and indices), min, argmax", () => {
    scope(() => {
      const m = f64(M);
      expectT(m.max(), [], [4]);
      expectT(m.min(), [], [-6]);
      const r = m.maxAlong(1);
      expectT(r.values, [2], [3, 4]);
      assert.equal(r.indices.dtype, "int64");
      assert.deepEqual(Array.from(r.indices.data<"int64">()), [2n, 0n]);
      const c = m.maxAlong(0, true);
      expectT(c.values, [1, 3], [4, 0, 3]);
      expectT(c.indices, [1, 3], [1, 1, 0]);
      const argmax1 = m.argmax(1);
      assert.equal(argmax1.dtype, "int64");
      expectT(argmax1, [2], [2, 0]);
      expectT(m.argmax(0, true), [1, 3], [1, 1, 0]);
      expectT(m.argmax(-1, true), [2, 1], [2, 0]);
    });
  });

  test("norm is the L2 norm of all elements", () => {
    scope(() => {
      expectT(f64([3, 4]).norm(), [], [5]);
      expectT(f64(M).norm(), [], [Math.sqrt(1 + 4 + 9 + 16 + 36)], 1e-12);
      expectT(
        tensor([
          [1, 2],
          [2, 4],
        ]).norm(),
        [],
        [5],
      );
    });
  });
});

/** Row-wise softmax of an n × m row-major array, in plain JS. */
function refSoftmax(x: number[], n: number, m: number, log: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = x.slice(i * m, i * m + m);
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
    for (const v of row) out.push(log ? v - lse : Math.exp(v - lse));
  }
  return out;
}

describe("softmax and losses", () => {
  const X = [1, 2, 3, -1, 0, 4];

  test("softmax and logSoftmax along each dim", () => {
    scope(() => {
      const x = tensor(new Float64Array(X), { shape: [2, 3] });
      const sm = x.softmax(1);
      expectT(sm, [2, 3], refSoftmax(X, 2, 3, false), 1e-12);
      expectT(sm.sum(1), [2], [1, 1], 1e-12);
      expectT(x.softmax(-1), [2, 3], refSoftmax(X, 2, 3, false), 1e-12);
      expectT(x.logSoftmax(1), [2, 3], refSoftmax(X, 2, 3, true), 1e-12);
      // along dim 0 = along rows of the transpose
      const T = [1, -1, 2, 0, 3, 4];
      const sm0 = refSoftmax(T, 3, 2, false);
      expectT(x.softmax(0), [2, 3], [sm0[0]!, sm0[2]!, sm0[4]!, sm0[1]!, sm0[3]!, sm0[5]!], 1e-12);
      const ls0 = refSoftmax(T, 3, 2, true);
      expectT(x.logSoftmax(0), [2, 3], [ls0[0]!, ls0[2]!, ls0[4]!, ls0[1]!, ls0[3]!, ls0[5]!], 1e-12);
      // large logits do not overflow
      expectT(f64([1000, 1000]).softmax(0), [2], [0.5, 0.5]);
      expectT(f64([1000, 0]).logSoftmax(0), [2], [0, -1000]);
    });
  });

  test("crossEntropy with reductions none, mean, sum", () => {
    scope(() => {
      const logits = tensor(new Float64Array(X), { shape: [2, 3] });
      const target = i64([2, 0]);
      const ls = refSoftmax(X, 2, 3, true);
      const per = [-ls[2]!, -ls[3]!];
      expectT(crossEntropy(logits, target, "none"), [2], per, 1e-12);
      expectT(crossEntropy(logits, target, "mean"), [], [(per[0]! + per[1]!) / 2], 1e-12);
      expectT(crossEntropy(logits, target), [], [(per[0]! + per[1]!) / 2], 1e-12);
      expectT(crossEntropy(logits, target, "sum"), [], [per[0]! + per[1]!], 1e-12);
      // uniform logits: log C
      expectT(crossEntropy(zeros([4, 5]), i64([0, 1, 2, 4])), [], [Math.log(5)]);
      assert.throws(() => crossEntropy(logits, target, "avg" as "mean"), TypeError);
    });
  });

  test("nllLoss with reductions none, mean, sum", () => {
    scope(() => {
      const logp = f64([
        [-0.5, -1, -2],
        [-3, -0.25, -4],
        [-1, -1, -1],
      ]);
      const target = i64([1, 1, 2]);
      expectT(nllLoss(logp, target, "none"), [3], [1, 0.25, 1]);
      expectT(nllLoss(logp, target, "mean"), [], [0.75]);
      expectT(nllLoss(logp, target), [], [0.75]);
      expectT(nllLoss(logp, target, "sum"), [], [2.25]);
      // crossEntropy = nllLoss ∘ logSoftmax
      const logits = f64([
        [0.3, -1, 2],
        [1, 1, 0],
      ]);
      const t2 = i64([0, 2]);
      expectT(
        nllLoss(logits.logSoftmax(1), t2, "none"),
        [2],
        crossEntropy(logits, t2, "none").toArray(),
        1e-12,
      );
    });
  });
});

describe("dropout", () => {
  test("eval mode and p = 0 are the identity", () => {
    scope(() => {
      const x = f64([1, -2, 3, 4]);
      expectT(dropout(x, 0.5, false), [4], [1, -2, 3, 4]);
      expectT(dropout(x, 0.9, false), [4], [1, -2, 3, 4]);
      expectT(dropout(x, 0, true), [4], [1, -2, 3, 4]);
      assert.throws(() => dropout(x, 1, true), RangeError);
      assert.throws(() => dropout(x, -0.1, true), RangeError);
    });
  });

  test("training with p = 0.5 zeroes about half and doubles the rest", () => {
    scope(() => {
      manualSeed(1234);
      const n = 100_000;
      const xs = new Float64Array(n);
      for (let i = 0; i < n; i++) xs[i] = 1 + (i % 7);
      const y = dropout(tensor(xs), 0.5, true).toFloat64Array();
      let zerosSeen = 0;
      for (let i = 0; i < n; i++) {
        if (y[i] === 0) zerosSeen++;
        else assert.equal(y[i], 2 * xs[i]!, `element ${i}`);
      }
      // binomial(1e5, 0.5): sd ≈ 158, so ±2000 is > 12 sd
      assert.ok(Math.abs(zerosSeen - n / 2) < 2000, `zeros: ${zerosSeen}`);
      // p = 0.25 scales survivors by 4/3
      const z = dropout(ones([1000], { dtype: "float64" }), 0.25, true).toArray();
      for (const v of z) assert.ok(v === 0 || Math.abs(v - 4 / 3) < 1e-12, `value ${v}`);
    });
  });

  test("masks are independent across elements and calls, and follow the seeded generator", () => {
    scope(() => {
      const n = 20_000;
      const x = ones([n], { dtype: "float32" });
      const kept = (t: Tensor): number[] => Array.from(t.toFloat32Array(), (v) => (v === 0 ? 0 : 1));
      manualSeed(7);
      const a = kept(dropout(x, 0.1, true));
      const b = kept(dropout(x, 0.1, true));
      // p = 0.1: kept share 0.9 (sd of the count ≈ 42), neighbours as independent as any pair
      // (the two elements that share one 64-bit draw included), and a new mask per call.
      const share = a.reduce((s, v) => s + v, 0) / n;
      assert.ok(Math.abs(share - 0.9) < 0.01, `kept share ${share}`);
      let bothNeighbours = 0;
      let same = 0;
      for (let i = 0; i + 1 < n; i += 2) bothNeighbours += a[i]! * a[i + 1]!;
      for (let i = 0; i < n; i++) same += a[i] === b[i] ? 1 : 0;
      assert.ok(Math.abs(bothNeighbours / (n / 2) - 0.81) < 0.015, `both kept ${bothNeighbours / (n / 2)}`);
      assert.ok(Math.abs(same / n - 0.82) < 0.015, `equal in two calls ${same / n}`);
      // The same seed, or the generator's state restored, gives the same masks again.
      manualSeed(7);
      assert.deepEqual(kept(dropout(x, 0.1, true)), a);
      const state = getRngState();
      const c = kept(dropout(x, 0.1, true));
      setRngState(state);
      assert.deepEqual(kept(dropout(x, 0.1, true)), c);
      assert.deepEqual(c, b);
    });
  });

  test("parts of a batch placed by offset or row index draw the whole batch's mask rows", () => {
    scope(() => {
      const rows = 9;
      const features = 5; // odd: a row's first element may take the high half of a stream value
      const x = ones([rows, features], { dtype: "float64" });
      const mask = (t: Tensor): number[][] => {
        const flat = t.toArray();
        return Array.from({ length: flat.length / features }, (_, r) =>
          flat.slice(r * features, (r + 1) * features),
        );
      };
      const state = getRngState();
      const whole = mask(dropout(x, 0.5, true));
      // Rows 2..5 by offset, rows 7, 0, 4 by index: each call with the same generator state.
      setRngState(state);
      const byOffset = mask(dropout(ones([4, features], { dtype: "float64" }), 0.5, true, { offset: 2 }));
      assert.deepEqual(byOffset, whole.slice(2, 6));
      setRngState(state);
      const index = i64([7, 0, 4]);
      const byIndex = mask(dropout(ones([3, features], { dtype: "float64" }), 0.5, true, { index }));
      assert.deepEqual(byIndex, [whole[7], whole[0], whole[4]]);
      // An empty part still takes its draw, so the next call matches the whole batch's next one.
      setRngState(state);
      dropout(ones([0, features], { dtype: "float64" }), 0.5, true, { offset: 9 });
      const next = mask(dropout(x, 0.5, true));
      setRngState(state);
      dropout(x, 0.5, true);
      assert.deepEqual(mask(dropout(x, 0.5, true)), next);
      assert.throws(() => dropout(x, 0.5, true, { index }), /one entry per row/);
    });
  });
});

describe("normalisation", () => {
  // 4 samples × 3 channels
  const XB = [
    [1, 2, -1],
    [3, 6, 0],
    [5, 4, 2],
    [-1, 0, 3],
  ];
  const EPS = 1e-5;

  function columnStats(rows: number[][]): { mean: number[]; biased: number[]; unbiased: number[] } {
    const n = rows.length;
    const c = rows[0]!.length;
    const mean = seq(c).map((j) => rows.reduce((s, r) => s + r[j]!, 0) / n);
    const ss = seq(c).map((j) => rows.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0));
    return { mean, biased: ss.map((v) => v / n), unbiased: ss.map((v) => v / (n - 1)) };
  }

  test("batchNorm in training normalises by batch statistics and updates running ones", () => {
    scope(() => {
      const x = f64(XB);
      const w = f64([1, 2, 0.5]);
      const b = f64([0, -1, 3]);
      const rm = f64([0.5, 0, 0]);
      const rv = f64([1, 2, 1]);
      const y = batchNorm(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true });
      const { mean, biased, unbiased } = columnStats(XB);
      // by hand, column 0: mean 2, biased var (1+1+9+9)/4 = 5, unbiased 20/3
      close(mean, [2, 3, 1], 1e-15);
      close(biased, [5, 5, 2.5], 1e-15);
      const W = [1, 2, 0.5];
      const B = [0, -1, 3];
      const want = XB.flatMap((r) =>
        r.map((v, j) => ((v - mean[j]!) / Math.sqrt(biased[j]! + EPS)) * W[j]! + B[j]!),
      );
      expectT(y, [4, 3], want, 1e-12);
      // running = 0.9 running + 0.1 batch, with the unbiased batch variance
      const RM = [0.5, 0, 0];
      const RV = [1, 2, 1];
      expectT(
        rm,
        [3],
        RM.map((v, j) => 0.9 * v + 0.1 * mean[j]!),
        1e-12,
      );
      expectT(
        rv,
        [3],
        RV.map((v, j) => 0.9 * v + 0.1 * unbiased[j]!),
        1e-12,
      );
      // column 0's running variance by hand: 0.9 + 0.1 · 20/3
      close(rv.toArray().slice(0, 1), [0.9 + 2 / 3], 1e-12);
    });
  });

  test("batchNorm in training with another momentum, no affine parameters, and a 3-d input", () => {
    scope(() => {
      const rm = zeros([3], { dtype: "float64" });
      const rv = ones([3], { dtype: "float64" });
      const y = batchNorm(f64(XB), { runningMean: rm, runningVar: rv, training: true, momentum: 0.5 });
      const { mean, biased, unbiased } = columnStats(XB);
      expectT(
        y,
        [4, 3],
        XB.flatMap((r) => r.map((v, j) => (v - mean[j]!) / Math.sqrt(biased[j]! + EPS))),
        1e-12,
      );
      expectT(
        rm,
        [3],
        mean.map((m) => 0.5 * m),
        1e-12,
      );
      expectT(
        rv,
        [3],
        unbiased.map((u) => 0.5 + 0.5 * u),
        1e-12,
      );
      // N × C × L: statistics over N and L for each channel
      const x3 = tensor(new Float64Array(seq(12)), { shape: [2, 2, 3] });
      const ch0 = [0, 1, 2, 6, 7, 8];
      const ch1 = [3, 4, 5, 9, 10, 11];
      const stats = (v: number[]) => {
        const m = v.reduce((s, a) => s + a, 0) / v.length;
        return [m, v.reduce((s, a) => s + (a - m) ** 2, 0) / v.length] as const;
      };
      const [m0, v0] = stats(ch0);
      const [m1, v1] = stats(ch1);
      const want = seq(12).map((i) => {
        const c = Math.floor(i / 3) % 2;
        return c === 0 ? (i - m0) / Math.sqrt(v0 + EPS) : (i - m1) / Math.sqrt(v1 + EPS);
      });
      expectT(batchNorm(x3, { training: true }), [2, 2, 3], want, 1e-12);
    });
  });

  test("batchNorm in eval uses (and keeps) the running statistics", () => {
    scope(() => {
      const rm = f64([1, -1, 0]);
      const rv = f64([4, 1, 0.25]);
      const w = f64([1, 2, 0.5]);
      const b = f64([0, -1, 3]);
      const y = batchNorm(f64(XB), {
        weight: w,
        bias: b,
        runningMean: rm,
        runningVar: rv,
        training: false,
        eps: 0,
      });
      const RM = [1, -1, 0];
      const SD = [2, 1, 0.5];
      const W = [1, 2, 0.5];
      const B = [0, -1, 3];
      expectT(
        y,
        [4, 3],
        XB.flatMap((r) => r.map((v, j) => ((v - RM[j]!) / SD[j]!) * W[j]! + B[j]!)),
        1e-12,
      );
      // e.g. first row by hand: (1-1)/2·1+0, (2+1)/1·2-1, (-1-0)/0.5·0.5+3
      close(y.toArray().slice(0, 3), [0, 5, 2], 1e-12);
      expectT(rm, [3], RM);
      expectT(rv, [3], [4, 1, 0.25]);
    });
  });

  test("layerNorm with weight and bias normalises each row", () => {
    scope(() => {
      const rows = [
        [1, 2, 3, 6],
        [-2, 0, 2, 0],
      ];
      const w = [1, 0.5, -1, 2];
      const b = [0, 1, 0, -1];
      const want = rows.flatMap((r) => {
        const m = r.reduce((s, v) => s + v, 0) / r.length;
        const v = r.reduce((s, a) => s + (a - m) ** 2, 0) / r.length;
        return r.map((a, j) => ((a - m) / Math.sqrt(v + EPS)) * w[j]! + b[j]!);
      });
      expectT(layerNorm(f64(rows), [4], f64(w), f64(b)), [2, 4], want, 1e-12);
      // first row by hand: mean 3, var (4+1+0+9)/4 = 3.5
      const s = Math.sqrt(3.5 + EPS);
      close(layerNorm(f64(rows), [4]).toArray().slice(0, 4), [-2 / s, -1 / s, 0, 3 / s], 1e-12);
      // over the last two dims of a 3-d tensor
      const x3 = tensor(new Float64Array(seq(12)), { shape: [2, 2, 3] });
      const m = 2.5;
      const v = seq(6).reduce((acc, a) => acc + (a - m) ** 2, 0) / 6;
      const one = seq(6).map((a) => (a - m) / Math.sqrt(v + EPS));
      expectT(layerNorm(x3, [2, 3]), [2, 2, 3], [...one, ...one], 1e-12);
      expectT(layerNorm(x3, [2, 3], null, null, 0), [2, 2, 3], [...one, ...one], 1e-5);
    });
  });
});

describe("dtypes and conversion", () => {
  test("tensor() infers dtypes; data() gives the matching typed array", () => {
    scope(() => {
      const a = tensor([1.5, 2]);
      assert.equal(a.dtype, "float32");
      assert.ok(a.data() instanceof Float32Array);
      assert.deepEqual(Array.from(a.data<"float32">()), [1.5, 2]);
      assert.equal(tensor([0.1]).data<"float32">()[0], Math.fround(0.1));

      const d = tensor(new Float64Array([0.1, 1e-300, -2.5]));
      assert.equal(d.dtype, "float64");
      assert.deepEqual(Array.from(d.data<"float64">()), [0.1, 1e-300, -2.5]);
      assert.deepEqual(Array.from(tensor([0.1, 0.2], { dtype: "float64" }).data<"float64">()), [0.1, 0.2]);

      const big = 2n ** 53n + 1n;
      const l = tensor(new BigInt64Array([big, -7n, 0n]));
      assert.equal(l.dtype, "int64");
      assert.ok(l.data() instanceof BigInt64Array);
      assert.deepEqual(Array.from(l.data<"int64">()), [big, -7n, 0n]);

      const b = tensor(new Uint8Array([1, 0, 1]));
      assert.equal(b.dtype, "bool");
      assert.deepEqual(Array.from(b.data<"bool">()), [1, 0, 1]);
      const b2 = tensor([true, false], { dtype: "bool" });
      assert.equal(b2.dtype, "bool");
      assert.deepEqual(b2.toArray(), [1, 0]);

      const n = tensor([[1, 2, 3]], { dtype: "int64" });
      assert.deepEqual([...n.shape], [1, 3]);
      assert.deepEqual(Array.from(n.data<"int64">()), [1n, 2n, 3n]);
      // a flat typed array with an explicit shape
      expectT(tensor(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] }), [2, 2], [1, 2, 3, 4]);
      // a scalar
      const s = tensor(3.5, { dtype: "float64" });
      assert.deepEqual([...s.shape], []);
      assert.equal(s.item(), 3.5);
    });
  });

  test("Int32Array input becomes int64", () => {
    scope(() => {
      const t = tensor(new Int32Array([1, -2, 2147483647]));
      assert.equal(t.dtype, "int64");
      assert.deepEqual(Array.from(t.data<"int64">()), [1n, -2n, 2147483647n]);
      assert.deepEqual(Array.from(t.toInt32Array()), [1, -2, 2147483647]);
      // and works as an index
      expectT(f64([5, 6, 7]).indexSelect(0, tensor(new Int32Array([2, 0]))), [2], [7, 5]);
    });
  });

  test("to() converts between every pair of dtypes", () => {
    scope(() => {
      const x = f64([1.75, -1.75, 0, 2]);
      const l = x.to("int64");
      assert.equal(l.dtype, "int64");
      assert.deepEqual(Array.from(l.data<"int64">()), [1n, -1n, 0n, 2n]); // truncation toward zero
      const b = x.to("bool");
      assert.equal(b.dtype, "bool");
      assert.deepEqual(Array.from(b.data<"bool">()), [1, 1, 0, 1]);
      const f = x.to("float32");
      assert.equal(f.dtype, "float32");
      assert.deepEqual(Array.from(f.data<"float32">()), [1.75, -1.75, 0, 2]);
      assert.deepEqual(Array.from(f.to("float64").data<"float64">()), [1.75, -1.75, 0, 2]);
      assert.deepEqual(Array.from(b.to("float32").data<"float32">()), [1, 1, 0, 1]);
      assert.deepEqual(Array.from(b.to("int64").data<"int64">()), [1n, 1n, 0n, 1n]);
      assert.deepEqual(Array.from(l.to("float64").data<"float64">()), [1, -1, 0, 2]);
      assert.deepEqual(Array.from(l.to("bool").data<"bool">()), [1, 1, 0, 1]);
      // float64 → float32 rounds
      assert.equal(f64([0.1]).to("float32").data<"float32">()[0], Math.fround(0.1));
      // to() the same dtype keeps values
      assert.deepEqual(Array.from(x.to("float64").data<"float64">()), [1.75, -1.75, 0, 2]);
      // to("cpu") on a CPU tensor
      assert.equal(x.to("cpu").device, "cpu");
    });
  });

  test("readback helpers, item, clone, detach and copy_", () => {
    scope(() => {
      const x = f64([1.5, -2.25]);
      assert.deepEqual(Array.from(x.toFloat64Array()), [1.5, -2.25]);
      assert.deepEqual(Array.from(x.toFloat32Array()), [1.5, -2.25]);
      assert.deepEqual(x.toArray(), [1.5, -2.25]);
      assert.equal(f64([[7]]).item(), 7);
      assert.equal(x.device, "cpu");
      const c = x.clone();
      const d = x.detach();
      assert.deepEqual(c.toArray(), [1.5, -2.25]);
      assert.deepEqual(d.toArray(), [1.5, -2.25]);
      // copy_ writes in place (and converts the dtype)
      const dst = zeros([2], { dtype: "float64" });
      assert.equal(dst.copy_(tensor([3, 4])), dst);
      assert.deepEqual(dst.toArray(), [3, 4]);
      // clone owns its storage: copying into x leaves it unchanged
      x.copy_(f64([0, 0]));
      assert.deepEqual(c.toArray(), [1.5, -2.25]);
    });
  });

  test("factories: zeros, ones, full, arange, zerosLike", () => {
    scope(() => {
      const z = zeros([2, 3]);
      assert.equal(z.dtype, "float32");
      expectT(z, [2, 3], new Array(6).fill(0));
      expectT(ones([2], { dtype: "int64" }), [2], [1, 1]);
      expectT(full([1, 2], -1.5, { dtype: "float64" }), [1, 2], [-1.5, -1.5]);
      const r = arange(4);
      assert.equal(r.dtype, "int64");
      expectT(r, [4], [0, 1, 2, 3]);
      expectT(arange(2, { start: -1, step: 0.5, dtype: "float64" }), [6], [-1, -0.5, 0, 0.5, 1, 1.5]);
      const zl = zerosLike(f64([[1, 2]]));
      assert.equal(zl.dtype, "float64");
      expectT(zl, [1, 2], [0, 0]);
    });
  });
});

describe("seeded randomness", () => {
  test("the same seed gives the same randn, rand, multinomial and bernoulli draws", () => {
    scope(() => {
      const draw = () => {
        manualSeed(42);
        return {
          n: randn([50], { dtype: "float64" }).toArray(),
          u: rand([50]).toArray(),
          m: multinomial(full([3, 6], 1), 4, true).toArray(),
          m2: multinomial(f64([0.1, 0.2, 0.3, 0.4]), 4, false).toArray(),
          b: bernoulli(full([40], 0.5)).toArray(),
        };
      };
      const first = draw();
      const second = draw();
      assert.deepEqual(second, first);
      // and a different seed gives different draws
      manualSeed(43);
      assert.notDeepEqual(randn([50], { dtype: "float64" }).toArray(), first.n);
      // successive draws differ
      manualSeed(42);
      const a = rand([10]).toArray();
      const b = rand([10]).toArray();
      assert.notDeepEqual(a, b);
    });
  });

  test("rand is uniform in [0, 1); randn has mean 0 and sd 1", () => {
    scope(() => {
      manualSeed(7);
      const n = 100_000;
      const u = rand([n], { dtype: "float64" }).toFloat64Array();
      let su = 0;
      for (const v of u) {
        assert.ok(v >= 0 && v < 1, `rand gave ${v}`);
        su += v;
      }
      assert.ok(Math.abs(su / n - 0.5) < 0.01, `rand mean ${su / n}`);
      const u32 = rand([10_000]).toFloat32Array();
      for (const v of u32) assert.ok(v >= 0 && v < 1, `float32 rand gave ${v}`);
      const g = randn([n]).toFloat64Array();
      let s = 0;
      let s2 = 0;
      for (const v of g) {
        s += v;
        s2 += v * v;
      }
      const mean = s / n;
      const sd = Math.sqrt(s2 / n - mean * mean);
      assert.ok(Math.abs(mean) < 0.02, `randn mean ${mean}`);
      assert.ok(Math.abs(sd - 1) < 0.02, `randn sd ${sd}`);
      assert.deepEqual([...randn([2, 3]).shape], [2, 3]);
    });
  });

  test("multinomial follows its probabilities", () => {
    scope(() => {
      manualSeed(3);
      const oneHot = f64([
        [0, 0, 1, 0],
        [1, 0, 0, 0],
      ]);
      const m = multinomial(oneHot, 20, true);
      assert.equal(m.dtype, "int64");
      assert.deepEqual([...m.shape], [2, 20]);
      assert.deepEqual(m.toArray(), [...new Array(20).fill(2), ...new Array(20).fill(0)]);
      // a 1-d row, unnormalised
      assert.deepEqual(multinomial(f64([0, 5, 0]), 3, true).toArray(), [1, 1, 1]);
      // without replacement every category appears once
      const perm = multinomial(full([5], 1), 5, false).toArray();
      assert.deepEqual([...perm].sort(), [0, 1, 2, 3, 4]);
      // frequencies roughly follow the weights
      const draws = multinomial(f64([1, 3]), 20_000, true).toArray();
      const ones_ = draws.reduce((acc, v) => acc + v, 0);
      assert.ok(Math.abs(ones_ / 20_000 - 0.75) < 0.02, `share of 1: ${ones_ / 20_000}`);
    });
  });

  test("bernoulli gives 0/1 with the given probabilities", () => {
    scope(() => {
      manualSeed(11);
      const p = f64([0, 1, 0, 1]);
      assert.deepEqual(bernoulli(p).toArray(), [0, 1, 0, 1]);
      assert.equal(bernoulli(p).dtype, "float64");
      const n = 50_000;
      const draws = bernoulli(full([n], 0.3, { dtype: "float64" })).toFloat64Array();
      let s = 0;
      for (const v of draws) {
        assert.ok(v === 0 || v === 1);
        s += v;
      }
      assert.ok(Math.abs(s / n - 0.3) < 0.015, `mean ${s / n}`);
    });
  });
});
