// Optimizer updates against hand-computed ones (float64), gradient clipping, and state restore.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  Adam,
  clipGradNorm,
  keep,
  RMSprop,
  SGD,
  scope,
  type Tensor,
  tensor,
} from "../../src/engine/index.js";

const C = [0.5, 3]; // loss = sum(c * p), so the gradient is c whatever p is

function makeParam(values = [1, -2]): Tensor {
  return keep(tensor(values, { dtype: "float64", requiresGrad: true }));
}

function backwardLinear(p: Tensor): void {
  scope(() =>
    p
      .mul(tensor(C, { dtype: "float64" }))
      .sum()
      .backward(),
  );
}

function close(actual: number[], expected: number[], tol = 1e-12): void {
  assert.equal(actual.length, expected.length);
  for (const [i, a] of actual.entries())
    assert.ok(Math.abs(a - expected[i]!) <= tol, `element ${i}: ${a} vs ${expected[i]}`);
}

describe("optimizers", () => {
  test("SGD with momentum and weight decay follows torch.optim.SGD", () => {
    const p = makeParam();
    const opt = new SGD([["p", p]], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    let ref = [1, -2];
    let buf = [0, 0];
    for (let step = 1; step <= 3; step++) {
      opt.zeroGrad();
      backwardLinear(p);
      opt.step();
      const g = ref.map((v, i) => C[i]! + 0.01 * v);
      buf = step === 1 ? g : buf.map((b, i) => 0.9 * b + g[i]!);
      ref = ref.map((v, i) => v - 0.1 * buf[i]!);
      close(p.toArray(), ref);
    }
    // the first two steps by hand: [0.949, -2.298], then [0.852151, -2.863902]
    opt.dispose();
    p.dispose();
  });

  test("plain SGD is p -= lr * g", () => {
    const p = makeParam();
    const opt = new SGD([p], { lr: 0.5 });
    backwardLinear(p);
    opt.step();
    close(p.toArray(), [1 - 0.25, -2 - 1.5]);
    p.dispose();
  });

  test("Adam: with a constant gradient every step moves lr * sign(g)", () => {
    const p = makeParam();
    const opt = new Adam([["p", p]], { lr: 0.1 });
    for (let step = 1; step <= 2; step++) {
      opt.zeroGrad();
      backwardLinear(p);
      opt.step();
    }
    // m̂ = g and v̂ = g² exactly, so each step is 0.1 · g / (|g| + 1e-8)
    const move = C.map((g) => (0.1 * g) / (Math.abs(g) + 1e-8));
    close(p.toArray(), [1 - 2 * move[0]!, -2 - 2 * move[1]!], 1e-12);
    opt.dispose();
    p.dispose();
  });

  test("Adam with weight decay follows torch.optim.Adam", () => {
    const p = makeParam();
    const [b1, b2, lr, eps, wd] = [0.9, 0.999, 0.01, 1e-8, 0.1];
    const opt = new Adam([["p", p]], { lr, weightDecay: wd });
    let ref = [1, -2];
    let m = [0, 0];
    let v = [0, 0];
    for (let t = 1; t <= 3; t++) {
      opt.zeroGrad();
      backwardLinear(p);
      opt.step();
      const g = ref.map((x, i) => C[i]! + wd * x);
      m = m.map((mi, i) => b1 * mi + (1 - b1) * g[i]!);
      v = v.map((vi, i) => b2 * vi + (1 - b2) * g[i]! ** 2);
      ref = ref.map(
        (x, i) => x - (lr / (1 - b1 ** t)) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t) + eps)),
      );
      close(p.toArray(), ref);
    }
    opt.dispose();
    p.dispose();
  });

  test("RMSprop (plain and with momentum) follows torch.optim.RMSprop", () => {
    for (const momentum of [0, 0.5]) {
      const p = makeParam();
      const [lr, alpha, eps] = [0.01, 0.9, 1e-8];
      const opt = new RMSprop([["p", p]], { lr, alpha, momentum });
      let ref = [1, -2];
      let sq = [0, 0];
      let buf = [0, 0];
      for (let t = 1; t <= 3; t++) {
        opt.zeroGrad();
        backwardLinear(p);
        opt.step();
        sq = sq.map((s, i) => alpha * s + (1 - alpha) * C[i]! ** 2);
        const step = C.map((g, i) => g / (Math.sqrt(sq[i]!) + eps));
        if (momentum) {
          buf = buf.map((b, i) => momentum * b + step[i]!);
          ref = ref.map((x, i) => x - lr * buf[i]!);
        } else {
          ref = ref.map((x, i) => x - lr * step[i]!);
        }
        close(p.toArray(), ref);
      }
      opt.dispose();
      p.dispose();
    }
  });

  test("parameters without a gradient are left alone", () => {
    const p = makeParam();
    const q = makeParam([7, 8]);
    const opt = new Adam([p, q], { lr: 0.1 });
    backwardLinear(p);
    opt.step();
    close(q.toArray(), [7, 8]);
    opt.dispose();
    p.dispose();
    q.dispose();
  });

  test("clipGradNorm scales gradients to the global norm and returns the norm before", () => {
    const a = keep(tensor([3], { dtype: "float64", requiresGrad: true }));
    const b = keep(tensor([4], { dtype: "float64", requiresGrad: true }));
    scope(() => a.mul(a).mul(0.5).add(b.mul(b).mul(0.5)).sum().backward()); // grads 3 and 4
    assert.equal(clipGradNorm([a, b], 10), 5); // under the limit: untouched
    scope(() => close([a.grad!.item(), b.grad!.item()], [3, 4]));
    const norm = clipGradNorm([a, b], 1);
    assert.ok(Math.abs(norm - 5) < 1e-12);
    scope(() => close([a.grad!.item(), b.grad!.item()], [3 / (5 + 1e-6), 4 / (5 + 1e-6)]));
    a.dispose();
    b.dispose();
  });

  test("state() and loadState() resume exactly where an optimizer stopped", () => {
    const run = (steps: number, resumeAt?: number): number[] => {
      const p = makeParam();
      let opt = new Adam([["w", p]], { lr: 0.05, weightDecay: 0.01 });
      for (let s = 1; s <= steps; s++) {
        if (s === resumeAt) {
          const saved = opt.state();
          const copy = new Map([...saved.tensors].map(([k, t]) => [k, keep(t.clone())]));
          opt.dispose();
          opt = new Adam([["w", p]], { lr: 0.05, weightDecay: 0.01 });
          opt.loadState({ ...saved, tensors: copy });
          for (const t of copy.values()) t.dispose();
        }
        opt.zeroGrad();
        scope(() => p.mul(p).sum().backward());
        opt.step();
      }
      const out = p.toArray();
      opt.dispose();
      p.dispose();
      return out;
    };
    assert.deepEqual(run(6, 4), run(6));
  });

  test("bad settings and mismatched state are clear errors", () => {
    const p = makeParam();
    assert.throws(() => new SGD([p], { lr: 0 }), /learning rate must be positive/);
    assert.throws(
      () =>
        new Adam([
          ["a", p],
          ["a", p],
        ]),
      /names must be unique/,
    );
    const opt = new Adam([["w", p]]);
    assert.throws(() => opt.loadState({ step: 1, lr: 1, tensors: new Map() }), /missing "exp_avg.w"/);
    assert.throws(() => clipGradNorm([p], 0), /maxNorm must be positive/);
    opt.dispose();
    p.dispose();
  });
});
