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

  test("mixing devices is a TorchError; memory() reports CUDA bytes", () => {
    scope(() => {
      const before = memory().cudaBytes;
      const g = randn([256], { device: "cuda" });
      assert.ok(memory().cudaBytes >= before + 1024);
      assert.throws(() => g.add(randn([256])), TorchError);
    });
  });
});
