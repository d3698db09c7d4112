// The engine on CUDA: the same results as on the CPU. Skipped where libtorch has no CUDA device.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  Adam,
  BatchedLinear,
  cat,
  crossEntropy,
  cudaAvailable,
  keep,
  linear,
  lstmCell,
  manualSeed,
  memory,
  randn,
  StateMemory,
  scope,
  TorchError,
  tensor,
  treeLstmCell,
} from "../../src/engine/index.js";

const skip = !cudaAvailable() && "no CUDA device (libtorch built without CUDA or no GPU)";

describe("cuda", { skip }, () => {
  test("tensors move to cuda and back unchanged", () => {
    scope(() => {
      const x = tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: "float64" },
      );
      const g = x.to("cuda");
      assert.equal(g.device, "cuda:0");
      assert.deepEqual(g.to("cpu").toArray(), [1, 2, 3, 4]);
      assert.deepEqual(tensor([5, 6], { device: "cuda" }).toArray(), [5, 6]);
    });
  });

  test("ops, autograd and an optimizer step agree with the CPU", () => {
    manualSeed(0);
    const run = (device: "cpu" | "cuda") =>
      scope(() => {
        const w = keep(
          tensor(
            [
              [0.1, -0.2, 0.3],
              [0.4, 0.5, -0.6],
            ],
            { dtype: "float64", device },
          ).setRequiresGrad(),
        );
        const x = tensor(
          [
            [1, 2, 3],
            [-1, 0, 1],
            [2, 2, 2],
          ],
          { dtype: "float64", device },
        );
        const y = tensor([0, 1, 1], { dtype: "int64", device });
        const opt = new Adam([["w", w]], { lr: 0.1 });
        const loss = crossEntropy(cat([linear(x, w).tanh()], 0), y);
        loss.backward();
        opt.step();
        const out = { loss: loss.item(), w: w.toArray() };
        opt.dispose();
        w.dispose();
        return out;
      });
    const cpu = run("cpu");
    const gpu = run("cuda");
    assert.ok(Math.abs(cpu.loss - gpu.loss) < 1e-12);
    gpu.w.forEach((v, i) => {
      assert.ok(Math.abs(v - cpu.w[i]!) < 1e-12);
    });
  });

  test("fused cells and BatchedLinear: the same values and gradients as on the CPU", () => {
    scope(() => {
      manualSeed(6);
      const opts = { dtype: "float64" as const };
      const g = randn([4, 10], opts);
      const c = randn([4, 4], opts);
      const w = randn([6, 3], opts);
      const x = randn([4, 3], opts);
      const run = (device: "cpu" | "cuda") => {
        const gg = g.to(device).setRequiresGrad();
        const cc = c.to(device).setRequiresGrad();
        const ww = w.to(device).setRequiresGrad();
        const product = new BatchedLinear(ww, null, 8);
        const tree = treeLstmCell(gg, cc.narrow(1, 0, 2), cc.narrow(1, 2, 2));
        const lstm = lstmCell(product.forward(x.to(device)).narrow(1, 0, 4), cc.narrow(1, 0, 1));
        tree.sum().add(lstm.square().sum()).backward();
        return [tree, lstm, gg.grad!, cc.grad!, ww.grad!].map((t) => t.to("cpu"));
      };
      const cpu = run("cpu");
      run("cuda").forEach((t, k) => assert.ok(t.sub(cpu[k]!).abs().max().item() < 1e-10, `result ${k}`));
    });
  });

  test("gathers of several parts, gathered products and cells inside a state memory: the same values and gradients as on the CPU", () => {
    scope(() => {
      manualSeed(7);
      const opts = { dtype: "float64" as const };
      const H = 3;
      const leaves = randn([4, 2 * H], opts);
      const tracker = randn([2, 2 * H], opts);
      const w = randn([5 * H, 3 * H], opts);
      const wt = randn([4 * H, 2 * H], opts);
      const rows = (...xs: number[]) => new Int32Array(xs);
      const run = (device: "cpu" | "cuda") => {
        const l = leaves.to(device).setRequiresGrad();
        const t = tracker.to(device).setRequiresGrad();
        const [ww, wwt] = [w.to(device).setRequiresGrad(), wt.to(device).setRequiresGrad()];
        const memory = new StateMemory(6, 2 * H, { ...opts, device });
        const track = new StateMemory(4, 2 * H, { ...opts, device });
        memory.write(rows(0, 1, 2, 3), l);
        track.write(rows(1, 2), t);
        const parts = [
          { memory, rows: rows(0, 1, 2, 3), group: 2, start: 0, count: H },
          { memory: track, rows: rows(1, 2), group: 1, start: 0, count: H },
        ];
        const gates = new BatchedLinear(ww, null, 2).forwardGathered(parts);
        memory.writeTreeLstmCell(rows(4, 5), gates, rows(0, 2), rows(1, 3));
        const x = StateMemory.gatherParts([
          { memory, rows: rows(4, 5), group: 1, start: 0, count: H },
          { memory: track, rows: rows(2, 1), group: 1, start: 0, count: H },
        ]);
        track.writeLstmCell(rows(3, 0), x.matmul(wwt.t()), rows(2, 1));
        const out = cat([memory.read(rows(4, 5)), track.read(rows(3, 0))], 1);
        out.square().sum().backward();
        return [out, l.grad!, t.grad!, ww.grad!, wwt.grad!].map((r) => r.to("cpu"));
      };
      const cpu = run("cpu");
      run("cuda").forEach((t, k) => assert.ok(t.sub(cpu[k]!).abs().max().item() < 1e-10, `result ${k}`));
    });
  });

  test("mixing devices is a TorchError; memory() reports CUDA bytes", () => {
    scope(() => {
      const before = memory().cudaBytes;
      const g = randn([256], { device: "cuda" });
      assert.ok(memory().cudaBytes >= before + 1024);
      assert.throws(() => g.add(randn([256])), TorchError);
    });
  });
});
