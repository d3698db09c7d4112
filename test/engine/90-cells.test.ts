// The fused TreeLSTM and LSTM cells against the model's readable definitions of the same maths
// (treeLstm, lstm in src/models/spinn.ts, written with separate ops): values and gradients
// (float64, 1e-12), with children's cells read as narrowed [h | c] rows, and with only part of
// the output used.
import assert from "node:assert/strict";
import { test } from "node:test";
import { lstmCell, manualSeed, randn, scope, type Tensor, treeLstmCell } from "../../src/engine/index.js";
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
