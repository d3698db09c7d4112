// The fused TreeLSTM and LSTM cells against the model's readable definitions of the same maths
// (treeLstm, lstm in src/models/spinn.ts, written with separate ops): values and gradients
// (float64, 1e-12), with children's cells read as narrowed [h | c] rows, and with only part of
// the output used.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  lstmCell,
  manualSeed,
  randn,
  StateMemory,
  scope,
  type Tensor,
  treeLstmCell,
} from "../../src/engine/index.js";
import { lstm, treeLstm } from "../../src/models/spinn.js";

function maxDiff(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().item();
}

/** Value and gradients of loss(cell(inputs)) for the fused and the composed cell. */
function compare(
  inputs: Tensor[],
  fused: (xs: Tensor[]) => Tensor,
  composed: (xs: Tensor[]) => Tensor,
  loss: (out: Tensor) => Tensor,
): void {
  const run = (cell: (xs: Tensor[]) => Tensor) => {
    for (const x of inputs) x.zeroGrad();
    const out = cell(inputs);
    loss(out).backward();
    return { out, grads: inputs.map((x) => x.grad!.clone()) };
  };
  const a = run(fused);
  const b = run(composed);
  assert.ok(maxDiff(a.out, b.out) < 1e-12, "values");
  a.grads.forEach((g, k) => assert.ok(maxDiff(g, b.grads[k]!) < 1e-12, `gradient ${k}`));
}

test("fused TreeLSTM cell = the model's treeLstm (values, gradients; strided children; partial use)", () => {
  scope(() => {
    manualSeed(3);
    const H = 6;
    const opts = { dtype: "float64" as const, requiresGrad: true };
    const gates = randn([5, 5 * H], opts);
    const left = randn([5, 2 * H], opts); // [h | c] rows: the cell is a narrowed view
    const right = randn([5, 2 * H], opts);
    const w = randn([5, 2 * H], { dtype: "float64" });
    const cells = (xs: Tensor[]) => [xs[0]!, xs[1]!.narrow(1, H, H), xs[2]!.narrow(1, H, H)] as const;
    const fused = (xs: Tensor[]) => treeLstmCell(...cells(xs));
    const composed = (xs: Tensor[]) => treeLstm(...cells(xs));
    compare([gates, left, right], fused, composed, (out) => out.mul(w).sum());
    compare([gates, left, right], fused, composed, (out) => out.narrow(1, 0, H).square().sum()); // h only
  });
});

test("fused LSTM cell = the model's lstm (values, gradients; partial use)", () => {
  scope(() => {
    manualSeed(4);
    const H = 5;
    const opts = { dtype: "float64" as const, requiresGrad: true };
    const gates = randn([7, 4 * H], opts);
    const state = randn([7, 2 * H], opts);
    const w = randn([7, 2 * H], { dtype: "float64" });
    const fused = (xs: Tensor[]) => lstmCell(xs[0]!, xs[1]!.narrow(1, H, H));
    const composed = (xs: Tensor[]) => lstm(xs[0]!, xs[1]!.narrow(1, H, H));
    compare([gates, state], fused, composed, (out) => out.mul(w).sum());
    compare([gates, state], fused, composed, (out) => out.narrow(1, H, H).sum()); // c only
  });
});

/**
 * The cells' previous cells read from a state memory, and their outputs written to it: with the
 * memory as their source (row indices kept instead of copies of the previous cells; with the
 * output rows, tanh(c) computed again instead of saved) the values and gradients are exactly
 * those without it.
 */
test("cells whose previous cells come from a state memory: the same values and gradients with the source as without", () => {
  scope(() => {
    manualSeed(7);
    const H = 4;
    const opts = { dtype: "float64" as const, requiresGrad: true };
    const leaves = randn([6, 2 * H], opts);
    const tree = randn([3, 5 * H], opts);
    const lstmGates = randn([3, 4 * H], opts);
    const left = new Int32Array([0, 2, 4]);
    const right = new Int32Array([1, 3, 1]);
    const treeOut = new Int32Array([6, 7, 8]);
    const lstmOut = new Int32Array([9, 10, 11]);
    const run = (mode: "none" | "source" | "outputs") => {
      for (const x of [leaves, tree, lstmGates]) x.zeroGrad();
      const memory = new StateMemory(12, 2 * H, { dtype: "float64" });
      memory.write(new Int32Array([0, 1, 2, 3, 4, 5]), leaves);
      const source = (rows: Int32Array[], outRows: Int32Array) =>
        mode === "none" ? undefined : { memory, rows, start: H, ...(mode === "outputs" ? { outRows } : {}) };
      const cl = memory.gather(left, 1, H, H);
      const cr = memory.gather(right, 1, H, H);
      const a = treeLstmCell(tree, cl, cr, source([left, right], treeOut));
      memory.write(treeOut, a);
      const b = lstmCell(lstmGates, memory.gather(right, 1, H, H), source([right], lstmOut));
      memory.write(lstmOut, b);
      const later = memory.gather(new Int32Array([7, 9, 6, 11]), 2, 0, 2 * H); // read back: 2 × 4H
      a.square().sum().add(b.mul(a).sum()).add(later.sigmoid().sum()).backward();
      return [a, b, leaves.grad!.clone(), tree.grad!.clone(), lstmGates.grad!.clone()];
    };
    const plain = run("none");
    for (const mode of ["source", "outputs"] as const) {
      run(mode).forEach((t, k) => assert.equal(maxDiff(t, plain[k]!), 0, `${mode}: output ${k}`));
    }
    const memory = new StateMemory(2, 2 * H, { dtype: "float64" });
    const c = randn([1, H], { dtype: "float64" });
    const g = randn([1, 4 * H], { dtype: "float64" });
    assert.throws(
      () => lstmCell(g, c, { memory, rows: [new Int32Array([2])], start: H }),
      /row 2 is outside the memory's 2 rows/,
    );
    const narrow = new StateMemory(2, H, { dtype: "float64" });
    const outRows = new Int32Array([1]);
    assert.throws(
      () => lstmCell(g, c, { memory: narrow, rows: [new Int32Array([0])], start: 0, outRows }),
      /the output rows need a memory 2H = 8 wide/,
    );
  });
});

test("float32 agrees with float64; bad shapes are clear errors", () => {
  scope(() => {
    manualSeed(5);
    const g = randn([3, 10], { dtype: "float64" });
    const c = randn([3, 2], { dtype: "float64" });
    const d = treeLstmCell(g, c, c);
    const f = treeLstmCell(g.to("float32"), c.to("float32"), c.to("float32"));
    assert.ok(maxDiff(f.to("float64"), d) < 1e-6);
    assert.throws(() => treeLstmCell(randn([3, 9]), randn([3, 2]), randn([3, 2])), /gates must be rows x 5H/);
    assert.throws(() => lstmCell(randn([3, 8]), randn([2, 2])), /cell states must be 3 x 2/);
  });
});
