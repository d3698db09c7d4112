// Gradients of every differentiable op against central finite differences (float64), and the
// autograd plumbing: backward with a given gradient, accumulation, zeroGrad, detach, noGrad.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  addmm,
  batchNorm,
  cat,
  crossEntropy,
  dropout,
  embedding,
  isGradEnabled,
  layerNorm,
  linear,
  manualSeed,
  nllLoss,
  noGrad,
  ones,
  scope,
  stack,
  type Tensor,
  tensor,
  where,
  zeros,
} from "../../src/engine/index.js";

const EPS = 1e-6;
const TOL = 1e-6;

/** A small deterministic generator (mulberry32), so weights and data do not depend on the engine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

let dataSeed = 1;

/** A float64 tensor of values uniform in [lo, hi) (deterministic). */
function randT(shape: number[], lo = -1, hi = 1): Tensor {
  const next = prng(dataSeed++);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * next();
  return tensor(v, { shape });
}

/** A float64 tensor of distinct values in random order, spaced at least `gap` apart (for max/sort-like ops). */
function distinctT(shape: number[], gap = 0.1): Tensor {
  const next = prng(dataSeed++);
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * gap + 0.3 * gap * next());
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  return tensor(new Float64Array(vals), { shape });
}

/** Values in [lo, hi) whose magnitude is at least `away` (keeps away from kinks at 0). */
function awayFromZeroT(shape: number[], away = 0.2, hi = 1.5): Tensor {
  const next = prng(dataSeed++);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = (next() < 0.5 ? -1 : 1) * (away + (hi - away) * next());
  return tensor(v, { shape });
}

const f64 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: "float64" });
const i64 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: "int64" });

/**
 * Checks d/dinputs of sum(f(inputs) * w), for fixed random weights w, against central finite
 * differences. Every input must be float64; each is copied into a fresh leaf that requires grad.
 * `wrt` limits which inputs are checked (the others still get copied but need no gradient).
 */
function checkGrad(
  name: string,
  f: (inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  options: { wrt?: boolean[]; tol?: number } = {},
): void {
  const tol = options.tol ?? TOL;
  scope(() => {
    for (const t of inputs) assert.equal(t.dtype, "float64", `${name}: inputs must be float64`);
    const values = inputs.map((t) => t.toFloat64Array());
    const shapes = inputs.map((t) => [...t.shape]);
    const wrt = inputs.map((_, i) => options.wrt?.[i] ?? true);
    const leaves = values.map((v, i) => tensor(v, { shape: shapes[i]!, requiresGrad: wrt[i]! }));

    const out = f(leaves);
    assert.equal(out.dtype, "float64", `${name}: output must be float64`);
    assert.ok(out.requiresGrad, `${name}: output does not require grad`);
    const next = prng(hash(name));
    const wv = new Float64Array(out.numel);
    for (let i = 0; i < wv.length; i++) wv[i] = 0.5 + next() * (next() < 0.5 ? -1 : 1);
    const w = tensor(wv, { shape: [...out.shape] });
    out.mul(w).sum().backward();

    const objective = (vs: Float64Array[]): number =>
      noGrad(() =>
        scope(() =>
          f(vs.map((v, i) => tensor(v, { shape: shapes[i]! })))
            .mul(w)
            .sum()
            .item(),
        ),
      );

    inputs.forEach((_, i) => {
      if (!wrt[i]) return;
      const g = leaves[i]!.grad;
      assert.ok(g !== null, `${name}: input ${i} got no gradient`);
      assert.deepEqual([...g.shape], shapes[i], `${name}: gradient ${i} shape`);
      const analytic = g.toFloat64Array();
      const v = values[i]!;
      for (let j = 0; j < v.length; j++) {
        const orig = v[j]!;
        const probe = values.map((a) => a);
        const plus = Float64Array.from(v);
        plus[j] = orig + EPS;
        probe[i] = plus;
        const fp = objective(probe);
        const minus = Float64Array.from(v);
        minus[j] = orig - EPS;
        probe[i] = minus;
        const fm = objective(probe);
        const numeric = (fp - fm) / (2 * EPS);
        const a = analytic[j]!;
        assert.ok(
          Math.abs(a - numeric) <= tol * (1 + Math.abs(numeric)),
          `${name}: d/dinput${i}[${j}] analytic ${a} vs numeric ${numeric}`,
        );
      }
    });
  });
}

describe("the gradient checker", () => {
  test("rejects a wrong gradient and a missing one", () => {
    scope(() => {
      // x · detach(x): autograd says x, finite differences say 2x
      assert.throws(() => checkGrad("wrong", ([x]) => x!.mul(x!.detach()), [randT([3], 0.5, 1)]), /analytic/);
      // the second input is unused, so it gets no gradient at all
      assert.throws(
        () => checkGrad("unused", ([x]) => x!.exp(), [randT([2]), randT([2])]),
        /got no gradient/,
      );
    });
  });
});

describe("gradients: elementwise arithmetic", () => {
  test("add, sub, mul, div (same shapes)", () => {
    scope(() => {
      const a = randT([2, 3]);
      const b = randT([2, 3], 0.5, 2);
      checkGrad("add", ([x, y]) => x!.add(y!), [a, b]);
      checkGrad("sub", ([x, y]) => x!.sub(y!), [a, b]);
      checkGrad("mul", ([x, y]) => x!.mul(y!), [a, b]);
      checkGrad("div", ([x, y]) => x!.div(y!), [a, b]);
      checkGrad("mul self", ([x]) => x!.mul(x!), [a]);
    });
  });

  test("add, sub, mul, div with broadcasting", () => {
    scope(() => {
      const a = randT([2, 3]);
      const row = randT([3], 0.5, 2);
      const col = randT([2, 1], 0.5, 2);
      const r13 = randT([1, 3], 0.5, 2);
      checkGrad("add [2,3]+[3]", ([x, y]) => x!.add(y!), [a, row]);
      checkGrad("sub [3]-[2,3]", ([x, y]) => y!.sub(x!), [a, row]);
      checkGrad("mul [2,1]*[1,3]", ([x, y]) => x!.mul(y!), [col, r13]);
      checkGrad("div [2,3]/[2,1]", ([x, y]) => x!.div(y!), [a, col]);
      checkGrad("div [3]/[2,3]", ([x, y]) => y!.div(x!), [randT([2, 3], 0.5, 2), row]);
      checkGrad("mul by a 0-d tensor", ([x, y]) => x!.mul(y!), [a, f64(1.7)]);
    });
  });

  test("scalar forms", () => {
    scope(() => {
      const a = randT([3, 2]);
      checkGrad("add scalar", ([x]) => x!.add(2.5), [a]);
      checkGrad("sub scalar", ([x]) => x!.sub(-1.25), [a]);
      checkGrad("mul scalar", ([x]) => x!.mul(-3), [a]);
      checkGrad("div scalar", ([x]) => x!.div(0.7), [a]);
      checkGrad("rsub scalar", ([x]) => x!.rsub(4), [a]);
    });
  });

  test("pow, sqrt, abs, square, neg", () => {
    scope(() => {
      const pos = randT([2, 3], 0.3, 2);
      checkGrad("pow 2", ([x]) => x!.pow(2), [randT([2, 3])]);
      checkGrad("pow 3", ([x]) => x!.pow(3), [randT([2, 3])]);
      checkGrad("pow 0.5", ([x]) => x!.pow(0.5), [pos]);
      checkGrad("pow -1.5", ([x]) => x!.pow(-1.5), [pos]);
      checkGrad("sqrt", ([x]) => x!.sqrt(), [pos]);
      checkGrad("abs", ([x]) => x!.abs(), [awayFromZeroT([2, 3])]);
      checkGrad("square", ([x]) => x!.square(), [randT([2, 3])]);
      checkGrad("neg", ([x]) => x!.neg(), [randT([2, 3])]);
    });
  });

  test("sigmoid, tanh, relu, exp, log", () => {
    scope(() => {
      checkGrad("sigmoid", ([x]) => x!.sigmoid(), [randT([2, 3], -3, 3)]);
      checkGrad("tanh", ([x]) => x!.tanh(), [randT([2, 3], -2, 2)]);
      checkGrad("relu", ([x]) => x!.relu(), [awayFromZeroT([3, 3])]);
      checkGrad("exp", ([x]) => x!.exp(), [randT([2, 3], -2, 2)]);
      checkGrad("log", ([x]) => x!.log(), [randT([2, 3], 0.2, 3)]);
    });
  });

  test("clamp (away from the bounds), maximum, minimum", () => {
    scope(() => {
      // values in ±(0.2..1.5), bounds at ±0.1 and ±1.6 apart from them: both inside and outside
      const x = f64([-1.5, -0.8, -0.3, 0.35, 0.9, 1.45]);
      checkGrad("clamp", ([t]) => t!.clamp(-0.55, 0.6), [x]);
      checkGrad("clamp all inside", ([t]) => t!.clamp(-2, 2), [x]);
      const d = distinctT([2, 4]);
      const [p, q] = noGrad(() => d.split(1, 0).map((t) => t.reshape(4)));
      checkGrad("maximum", ([a, b]) => a!.maximum(b!), [p!, q!]);
      checkGrad("minimum", ([a, b]) => a!.minimum(b!), [p!, q!]);
      const dd = distinctT([2, 3]);
      checkGrad("maximum broadcast", ([a, b]) => a!.maximum(b!), [dd, f64([-0.05, 0.05, 0.15])]);
      checkGrad("minimum broadcast", ([a, b]) => a!.minimum(b!), [dd, f64([[0.06], [-0.14]])]);
    });
  });

  test("where and maskedFill", () => {
    scope(() => {
      const cond = tensor([true, false, false, true, true, false], { dtype: "bool", shape: [2, 3] });
      checkGrad("where", ([a, b]) => where(cond, a!, b!), [randT([2, 3]), randT([2, 3])]);
      checkGrad("where broadcast", ([a, b]) => where(cond, a!, b!), [randT([3]), randT([2, 1])]);
      const mask = tensor([false, true, false], { dtype: "bool" });
      checkGrad("maskedFill", ([a]) => a!.maskedFill(mask, 7), [randT([2, 3])]);
      checkGrad("maskedFill then mul", ([a]) => a!.maskedFill(cond, -1).mul(a!), [randT([2, 3])]);
    });
  });
});

describe("gradients: linear algebra", () => {
  test("matmul, mm, bmm", () => {
    scope(() => {
      checkGrad("mm", ([a, b]) => a!.mm(b!), [randT([2, 3]), randT([3, 4])]);
      checkGrad("matmul 2-d", ([a, b]) => a!.matmul(b!), [randT([3, 2]), randT([2, 2])]);
      checkGrad("matmul matrix·vector", ([a, b]) => a!.matmul(b!), [randT([3, 2]), randT([2])]);
      checkGrad("matmul vector·vector", ([a, b]) => a!.matmul(b!), [randT([3]), randT([3])]);
      checkGrad("matmul batched broadcast", ([a, b]) => a!.matmul(b!), [randT([2, 2, 3]), randT([3, 2])]);
      checkGrad("bmm", ([a, b]) => a!.bmm(b!), [randT([2, 2, 3]), randT([2, 3, 2])]);
    });
  });

  test("linear with and without bias, addmm", () => {
    scope(() => {
      checkGrad("linear", ([x, w, b]) => linear(x!, w!, b!), [randT([3, 4]), randT([2, 4]), randT([2])]);
      checkGrad("linear no bias", ([x, w]) => linear(x!, w!), [randT([3, 4]), randT([2, 4])]);
      checkGrad("linear 3-d input", ([x, w, b]) => linear(x!, w!, b!), [
        randT([2, 2, 3]),
        randT([4, 3]),
        randT([4]),
      ]);
      checkGrad("addmm", ([b, x, y]) => addmm(b!, x!, y!), [randT([4]), randT([3, 2]), randT([2, 4])]);
      checkGrad("addmm full bias", ([b, x, y]) => addmm(b!, x!, y!), [
        randT([3, 4]),
        randT([3, 2]),
        randT([2, 4]),
      ]);
    });
  });
});

describe("gradients: shape ops", () => {
  test("reshape, transpose, t, permute, contiguous, flatten", () => {
    scope(() => {
      const c = randT([2, 3, 4]);
      checkGrad("reshape", ([x]) => x!.reshape(4, -1), [c]);
      checkGrad("transpose", ([x]) => x!.transpose(0, 2), [c]);
      checkGrad("t", ([x]) => x!.t(), [randT([2, 3])]);
      checkGrad("permute", ([x]) => x!.permute(1, 2, 0), [c]);
      checkGrad("contiguous", ([x]) => x!.transpose(1, 2).contiguous(), [c]);
      checkGrad("flatten", ([x]) => x!.flatten(1), [c]);
      checkGrad("transpose then reshape", ([x]) => x!.t().reshape(6).mul(x!.reshape(6)), [randT([2, 3])]);
    });
  });

  test("narrow, select, squeeze, unsqueeze, expand", () => {
    scope(() => {
      const c = randT([2, 3, 4]);
      checkGrad("narrow", ([x]) => x!.narrow(2, 1, 2), [c]);
      checkGrad("select", ([x]) => x!.select(1, 2), [c]);
      checkGrad("squeeze", ([x]) => x!.squeeze(1), [randT([3, 1, 2])]);
      checkGrad("unsqueeze", ([x]) => x!.unsqueeze(1), [randT([3, 2])]);
      checkGrad("expand", ([x]) => x!.expand(3, 4), [randT([3, 1])]);
      checkGrad("expand new dims", ([x]) => x!.expand(2, 3, 2), [randT([2])]);
    });
  });

  test("cat, stack, split (size and sizes), chunk", () => {
    scope(() => {
      checkGrad("cat dim 0", ([a, b]) => cat([a!, b!]), [randT([2, 3]), randT([1, 3])]);
      checkGrad("cat dim 1", ([a, b]) => cat([a!, b!, a!], 1), [randT([2, 3]), randT([2, 1])]);
      checkGrad("stack", ([a, b]) => stack([a!, b!]), [randT([2, 3]), randT([2, 3])]);
      checkGrad("stack dim -1", ([a, b]) => stack([b!, a!], -1), [randT([2, 3]), randT([2, 3])]);
      // pieces recombined in another order, one scaled and one dropped, so each piece's gradient differs
      checkGrad(
        "split by size",
        ([x]) => {
          const [p, q, r] = x!.split(2, 1);
          return cat([r!, p!.mul(3)], 1).mul(q!.sum());
        },
        [randT([2, 5])],
      );
      checkGrad(
        "split by sizes",
        ([x]) => {
          const [p, q, r] = x!.split([1, 3, 1], 0);
          return cat([q!, r!.exp(), p!.mul(-2)], 0);
        },
        [randT([5, 2])],
      );
      checkGrad("split keeping one piece", ([x]) => x!.split([2, 2], 1)[1]!, [randT([3, 4])]);
      checkGrad(
        "chunk",
        ([x]) => {
          const [p, q, r] = x!.chunk(3, 0);
          return stack([r!.square(), p!, q!.mul(0.5)], 0);
        },
        [randT([6, 2])],
      );
    });
  });
});

describe("gradients: indexing", () => {
  test("indexSelect and gather (with repeated indices)", () => {
    scope(() => {
      checkGrad("indexSelect dim 0", ([x]) => x!.indexSelect(0, i64([2, 0, 2, 2])), [randT([3, 2])]);
      checkGrad("indexSelect dim 1", ([x]) => x!.indexSelect(1, i64([1, 1, 3])), [randT([2, 4])]);
      const idx = i64([
        [0, 2, 2],
        [1, 1, 0],
      ]);
      checkGrad("gather dim 1", ([x]) => x!.gather(1, idx), [randT([2, 3])]);
      checkGrad("gather dim 0", ([x]) => x!.gather(0, i64([[1, 0, 1, 2]])), [randT([3, 4])]);
    });
  });

  test("scatterAdd, indexAdd, indexCopy wrt base and source", () => {
    scope(() => {
      const idx = i64([
        [0, 2, 0],
        [1, 1, 1],
      ]);
      checkGrad("scatterAdd dim 1", ([b, s]) => b!.scatterAdd(1, idx, s!), [randT([2, 3]), randT([2, 3])]);
      checkGrad("scatterAdd dim 0", ([b, s]) => b!.scatterAdd(0, i64([[2, 0, 2]]), s!), [
        randT([3, 3]),
        randT([1, 3]),
      ]);
      checkGrad("indexAdd dim 0", ([b, s]) => b!.indexAdd(0, i64([3, 0, 3]), s!), [
        randT([4, 2]),
        randT([3, 2]),
      ]);
      checkGrad("indexAdd dim 1", ([b, s]) => b!.indexAdd(1, i64([2, 0]), s!), [
        randT([2, 3]),
        randT([2, 2]),
      ]);
      // distinct indices: duplicates make indexCopy's result depend on write order
      checkGrad("indexCopy dim 0", ([b, s]) => b!.indexCopy(0, i64([2, 0]), s!), [
        randT([4, 2]),
        randT([2, 2]),
      ]);
      checkGrad("indexCopy dim 1", ([b, s]) => b!.indexCopy(1, i64([1]), s!).mul(b!), [
        randT([2, 3]),
        randT([2, 1]),
      ]);
    });
  });

  test("embedding wrt weight (repeated indices accumulate)", () => {
    scope(() => {
      checkGrad("embedding", ([w]) => embedding(w!, i64([2, 0, 2, 3])), [randT([4, 3])]);
      checkGrad(
        "embedding 2-d indices",
        ([w]) =>
          embedding(
            w!,
            i64([
              [1, 1],
              [0, 3],
            ]),
          ),
        [randT([4, 2])],
      );
    });
  });

  test("embedding's padding row receives no gradient", () => {
    scope(() => {
      const w = randT([3, 2]).setRequiresGrad();
      embedding(w, i64([1, 2, 1, 0]), 1)
        .mul(
          f64([
            [1, 2],
            [3, 4],
            [5, 6],
            [7, 8],
          ]),
        )
        .sum()
        .backward();
      // row 0 gets sample 3's weights, row 2 sample 1's, row 1 (padding) nothing
      assert.deepEqual(w.grad!.toArray(), [7, 8, 0, 0, 3, 4]);
    });
  });
});

describe("gradients: reductions", () => {
  test("sum and mean, all and per dim", () => {
    scope(() => {
      const c = randT([2, 3, 2]);
      checkGrad("sum all", ([x]) => x!.sum(), [c]);
      checkGrad("sum dim 1", ([x]) => x!.sum(1), [c]);
      checkGrad("sum dims keepdim", ([x]) => x!.sum([0, 2], true), [c]);
      checkGrad("mean all", ([x]) => x!.mean(), [c]);
      checkGrad("mean dim -1 keepdim", ([x]) => x!.mean(-1, true), [c]);
      checkGrad("mean dims", ([x]) => x!.mean([0, 1]), [c]);
      checkGrad("sum of squares", ([x]) => x!.square().sum(0), [c]);
    });
  });

  test("max and maxAlong values (distinct values), norm", () => {
    scope(() => {
      checkGrad("max all", ([x]) => x!.max(), [distinctT([3, 4])]);
      checkGrad("maxAlong dim 1", ([x]) => x!.maxAlong(1).values, [distinctT([3, 4])]);
      checkGrad("maxAlong dim 0 keepdim", ([x]) => x!.maxAlong(0, true).values, [distinctT([3, 4])]);
      checkGrad("norm", ([x]) => x!.norm(), [randT([2, 3])]);
      checkGrad("norm of a vector", ([x]) => x!.norm().mul(x!), [randT([4])]);
    });
  });
});

describe("gradients: softmax, losses, normalisation, dropout", () => {
  test("softmax and logSoftmax", () => {
    scope(() => {
      checkGrad("softmax dim 1", ([x]) => x!.softmax(1), [randT([3, 4], -2, 2)]);
      checkGrad("softmax dim 0", ([x]) => x!.softmax(0), [randT([3, 4], -2, 2)]);
      checkGrad("logSoftmax dim -1", ([x]) => x!.logSoftmax(-1), [randT([3, 4], -2, 2)]);
      checkGrad("logSoftmax dim 0", ([x]) => x!.logSoftmax(0), [randT([2, 3, 2], -2, 2)]);
    });
  });

  test("crossEntropy and nllLoss, every reduction", () => {
    scope(() => {
      const target = i64([2, 0, 3, 2]);
      for (const reduction of ["none", "mean", "sum"] as const) {
        checkGrad(`crossEntropy ${reduction}`, ([x]) => crossEntropy(x!, target, reduction), [
          randT([4, 5], -2, 2),
        ]);
        checkGrad(`nllLoss ${reduction}`, ([x]) => nllLoss(x!, target, reduction), [randT([4, 5], -3, 0)]);
        checkGrad(
          `nllLoss of logSoftmax ${reduction}`,
          ([x]) => nllLoss(x!.logSoftmax(1), target, reduction),
          [randT([4, 5], -2, 2)],
        );
      }
    });
  });

  test("batchNorm in training mode wrt input, weight and bias", () => {
    scope(() => {
      const w = randT([3], 0.5, 1.5);
      const b = randT([3]);
      checkGrad("batchNorm 2-d", ([x, wt, bs]) => batchNorm(x!, { weight: wt!, bias: bs!, training: true }), [
        randT([4, 3], -2, 2),
        w,
        b,
      ]);
      checkGrad("batchNorm 3-d", ([x, wt, bs]) => batchNorm(x!, { weight: wt!, bias: bs!, training: true }), [
        randT([3, 3, 2], -2, 2),
        w,
        b,
      ]);
      checkGrad("batchNorm no affine", ([x]) => batchNorm(x!, { training: true }), [randT([5, 2], -2, 2)]);
      // running statistics (updated in place on every call) do not change the training output
      scope(() => {
        const rm = zeros([3], { dtype: "float64" });
        const rv = ones([3], { dtype: "float64" });
        checkGrad(
          "batchNorm with running stats",
          ([x, wt, bs]) =>
            batchNorm(x!, { weight: wt!, bias: bs!, runningMean: rm, runningVar: rv, training: true }),
          [randT([4, 3], -2, 2), w, b],
        );
      });
      // eval mode is affine in x: gradient w / sqrt(runningVar + eps)
      scope(() => {
        const rm = f64([0.1, -0.2, 0.3]);
        const rv = f64([0.5, 2, 1.5]);
        checkGrad(
          "batchNorm eval",
          ([x, wt, bs]) =>
            batchNorm(x!, { weight: wt!, bias: bs!, runningMean: rm, runningVar: rv, training: false }),
          [randT([4, 3], -2, 2), w, b],
        );
      });
    });
  });

  test("layerNorm wrt input, weight and bias", () => {
    scope(() => {
      checkGrad("layerNorm", ([x, w, b]) => layerNorm(x!, [4], w!, b!), [
        randT([3, 4], -2, 2),
        randT([4], 0.5, 1.5),
        randT([4]),
      ]);
      checkGrad("layerNorm over two dims", ([x, w, b]) => layerNorm(x!, [2, 3], w!, b!), [
        randT([2, 2, 3], -2, 2),
        randT([2, 3], 0.5, 1.5),
        randT([2, 3]),
      ]);
      checkGrad("layerNorm no affine", ([x]) => layerNorm(x!, [3]), [randT([2, 3], -2, 2)]);
    });
  });

  test("dropout with p = 0 or in eval mode", () => {
    scope(() => {
      checkGrad("dropout p=0 train", ([x]) => dropout(x!, 0, true).mul(x!), [randT([3, 3])]);
      checkGrad("dropout eval", ([x]) => dropout(x!, 0.5, false).mul(x!), [randT([3, 3])]);
    });
  });

  test("dropout in training passes gradient 1/(1-p) where kept and 0 where dropped", () => {
    scope(() => {
      manualSeed(5);
      const x = randT([200], 0.5, 1).setRequiresGrad();
      const y = dropout(x, 0.5, true);
      y.sum().backward();
      const kept = y.toArray().map((v) => (v === 0 ? 0 : 2));
      assert.deepEqual(x.grad!.toArray(), kept);
      assert.ok(kept.includes(0) && kept.includes(2));
    });
  });
});

describe("autograd plumbing", () => {
  test("backward from a non-scalar output with a given gradient", () => {
    scope(() => {
      const xs = [0.5, -1, 2, 0.25];
      const gs = [1, -2, 0.5, 3];
      const x = tensor(new Float64Array(xs), { shape: [2, 2], requiresGrad: true });
      const g = tensor(new Float64Array(gs), { shape: [2, 2] });
      // y = x³ + x, dy/dx = 3x² + 1
      const y = x.pow(3).add(x);
      y.backward(g);
      const want = xs.map((v, i) => (3 * v * v + 1) * gs[i]!);
      const got = x.grad!.toArray();
      for (const [i, v] of got.entries()) assert.ok(Math.abs(v - want[i]!) < 1e-12, `element ${i}`);
      // the same as d(sum(y * g))/dx
      const x2 = tensor(new Float64Array(xs), { shape: [2, 2], requiresGrad: true });
      x2.pow(3).add(x2).mul(g).sum().backward();
      assert.deepEqual(x2.grad!.toArray(), got);
    });
  });

  test("gradients accumulate over backward calls; zeroGrad clears them", () => {
    scope(() => {
      const x = f64([1, -2, 3]).setRequiresGrad();
      assert.equal(x.grad, null);
      assert.ok(x.isLeaf);
      x.square().sum().backward(); // 2x
      assert.deepEqual(x.grad!.toArray(), [2, -4, 6]);
      x.mul(f64([1, 10, 100]))
        .sum()
        .backward(); // + [1, 10, 100]
      assert.deepEqual(x.grad!.toArray(), [3, 6, 106]);
      x.zeroGrad();
      assert.equal(x.grad, null);
      x.sum().backward();
      assert.deepEqual(x.grad!.toArray(), [1, 1, 1]);
      // a retained graph can be backpropagated twice, accumulating
      const y = x.square().sum();
      x.zeroGrad();
      y.backward(undefined, { retainGraph: true });
      y.backward();
      assert.deepEqual(x.grad!.toArray(), [4, -8, 12]);
    });
  });

  test("non-leaf tensors get no .grad; results of ops on leaves require grad", () => {
    scope(() => {
      const x = f64([1, 2]).setRequiresGrad();
      const y = x.mul(2);
      assert.equal(y.requiresGrad, true);
      assert.equal(y.isLeaf, false);
      y.sum().backward();
      assert.deepEqual(x.grad!.toArray(), [2, 2]);
      const c = f64([1, 2]);
      assert.equal(c.requiresGrad, false);
      assert.equal(c.mul(x).requiresGrad, true);
      assert.equal(c.mul(3).requiresGrad, false);
      x.setRequiresGrad(false);
      assert.equal(x.requiresGrad, false);
    });
  });

  test("detach stops gradients", () => {
    scope(() => {
      const x = f64([1.5, -2]).setRequiresGrad();
      const d = x.detach();
      assert.equal(d.requiresGrad, false);
      assert.deepEqual(d.toArray(), [1.5, -2]);
      // y = detach(x) · x: only the second factor carries gradient, so dy/dx = x (not 2x)
      d.mul(x).sum().backward();
      assert.deepEqual(x.grad!.toArray(), [1.5, -2]);
      // a graph built only from a detached tensor cannot be backpropagated
      assert.throws(() => d.mul(2).sum().backward());
    });
  });

  test("noGrad produces tensors that do not require grad, and restores grad mode", () => {
    scope(() => {
      const x = f64([1, 2]).setRequiresGrad();
      assert.equal(isGradEnabled(), true);
      const y = noGrad(() => {
        assert.equal(isGradEnabled(), false);
        return x.mul(3).add(1);
      });
      assert.equal(y.requiresGrad, false);
      assert.deepEqual(y.toArray(), [4, 7]);
      assert.equal(isGradEnabled(), true);
      assert.equal(x.mul(3).requiresGrad, true);
      // restored after a throw, too
      assert.throws(() =>
        noGrad(() => {
          throw new Error("boom");
        }),
      );
      assert.equal(isGradEnabled(), true);
      // nested noGrad keeps it off until the outer one ends
      noGrad(() => {
        noGrad(() => undefined);
        assert.equal(isGradEnabled(), false);
      });
      assert.equal(isGradEnabled(), true);
    });
  });
});
