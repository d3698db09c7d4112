// The fused TreeLSTM and LSTM cells against the model's readable definitions of the same maths
// (treeLstm, lstm in src/models/spinn.ts, written with separate ops): values and gradients
// (float64, 1e-12), with children's cells read as narrowed [h | c] rows, and with only part of
// the output used; and the cells inside a state memory against gather → cell → write.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  lstmCell,
  manualSeed,
  noGrad,
  randn,
  StateMemory,
  scope,
  type Tensor,
  tensor,
  treeLstmCell,
} from "../../src/engine/index.js";
import { lstm, treeLstm } from "../../src/models/spinn.js";
import { assertFiniteDifferences } from "../finite-differences.js";

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
 * The cells inside a state memory (StateMemory.writeTreeLstmCell / writeLstmCell: the previous
 * cells read from the memory's rows, the output written to it, in one op) against the
 * composition they replace: gathers of the previous cells, the fused cell, a write. A tree cell
 * whose output an LSTM cell then reads as its previous cell, rows read twice (their gradients
 * add up), the outputs read back by later gathers. The same bits in float64, values and
 * gradients; the gradients also against finite differences.
 */
test("cells inside a state memory = gather → cell → write: the same values and gradients (float64, bitwise); finite differences", () => {
  scope(() => {
    manualSeed(7);
    const H = 4;
    const opts = { dtype: "float64" as const, requiresGrad: true };
    const leaves = randn([6, 2 * H], opts);
    const tree = randn([3, 5 * H], opts);
    const lstmGates = randn([3, 4 * H], opts);
    const weights = randn([3, 4 * H], { dtype: "float64" });
    const rows = (...xs: number[]) => new Int32Array(xs);
    const [left, right, treeOut] = [rows(0, 2, 4), rows(1, 3, 1), rows(6, 7, 8)];
    const [previous, lstmOut] = [rows(7, 5, 7), rows(9, 10, 11)];
    const run = (inMemory: boolean) => {
      const memory = new StateMemory(12, 2 * H, { dtype: "float64" });
      memory.write(rows(0, 1, 2, 3, 4, 5), leaves);
      const c = (r: Int32Array) => memory.gather(r, 1, H, H);
      if (inMemory) memory.writeTreeLstmCell(treeOut, tree, left, right);
      else memory.write(treeOut, treeLstmCell(tree, c(left), c(right)));
      if (inMemory) memory.writeLstmCell(lstmOut, lstmGates, previous);
      else memory.write(lstmOut, lstmCell(lstmGates, c(previous)));
      const later = memory.gather(rows(7, 9, 6, 11, 10, 8), 2, 0, 2 * H); // 3 × 4H
      return { loss: later.sigmoid().mul(weights).sum(), all: memory.read(rows(...Array(12).keys())) };
    };
    const gradients = (inMemory: boolean) => {
      for (const x of [leaves, tree, lstmGates]) x.zeroGrad();
      const { loss, all } = run(inMemory);
      loss.backward();
      return [loss, all, leaves.grad!.clone(), tree.grad!.clone(), lstmGates.grad!.clone()];
    };
    const composed = gradients(false);
    const fused = gradients(true);
    fused.forEach((t, k) => assert.equal(maxDiff(t, composed[k]!), 0, `result ${k}`));
    const loss = () => noGrad(() => run(true).loss.item());
    assertFiniteDifferences(leaves, fused[2]!, loss, "leaves");
    assertFiniteDifferences(tree, fused[3]!, loss, "tree gates");
    assertFiniteDifferences(lstmGates, fused[4]!, loss, "lstm gates");
    // Without gradients (evaluation) the memory holds the same rows.
    const values = noGrad(() => run(true).all);
    assert.equal(maxDiff(values, composed[1]!), 0, "values without gradients");
  });
});

test("cells inside a state memory without gradients: the same bits as with them (float32), also when an output row is another cell's previous row", () => {
  scope(() => {
    manualSeed(11);
    const H = 13; // not a multiple of any vector width: the activations' tails are covered too
    const start = randn([8, 2 * H]);
    const treeGates = randn([3, 5 * H]);
    const lstmGates = randn([3, 4 * H]);
    const rows = (...xs: number[]) => new Int32Array(xs);
    const run = () => {
      const memory = new StateMemory(8, 2 * H);
      memory.write(rows(...Array(8).keys()), start);
      // Rows 1 and 2 are both read and written by one call: the reads see the values before it.
      memory.writeTreeLstmCell(rows(1, 2, 5), treeGates, rows(0, 1, 2), rows(2, 3, 1));
      memory.writeLstmCell(rows(6, 4, 7), lstmGates, rows(4, 6, 6));
      return memory.read(rows(...Array(8).keys()));
    };
    const withGrad = run();
    const without = noGrad(run);
    assert.equal(maxDiff(without, withGrad), 0);
    // And the values are the cells' of the rows as they were before each call.
    const at = (t: Tensor, r: number[]) => t.indexSelect(0, tensor(new Int32Array(r)));
    const tree = treeLstmCell(
      treeGates,
      at(start, [0, 1, 2]).narrow(1, H, H),
      at(start, [2, 3, 1]).narrow(1, H, H),
    );
    assert.equal(maxDiff(at(without, [1, 2, 5]), tree), 0, "TreeLSTM rows");
  });
});

test("cells inside a state memory check their memory and rows", () => {
  scope(() => {
    const H = 2;
    const memory = new StateMemory(4, 2 * H, { dtype: "float64" });
    const g = randn([1, 4 * H], { dtype: "float64" });
    const one = (r: number) => new Int32Array([r]);
    assert.throws(
      () => memory.writeLstmCell(one(1), g, one(4)),
      /row 4 \(position 0\) is outside the state memory's 4 rows/,
    );
    assert.throws(() => memory.writeLstmCell(new Int32Array([1, 2]), g, one(0)), /has 2 rows for 1 cells/);
    const narrow = new StateMemory(4, H, { dtype: "float64" });
    assert.throws(() => narrow.writeLstmCell(one(1), g, one(0)), /the memory must be 2H = 4 wide/);
    assert.throws(() => memory.writeTreeLstmCell(one(1), randn([1, 5 * H]), one(0), one(0)), /gates' dtype/);
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
