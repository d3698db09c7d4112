// The native layer loads, reports its runtime, and turns every bad input into a JS exception.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { memory, native, runtimeInfo, scope, TorchError, tensor, zeros } from "../../src/engine/index.js";
import { nativeEntryPointNames } from "../../src/engine/native.js";

describe("native layer", () => {
  test("reports libtorch version and threads", () => {
    const info = runtimeInfo();
    assert.match(info.torchVersion, /^\d+\.\d+\.\d+/);
    assert.ok(info.threads >= 1);
    assert.equal(typeof info.cudaAvailable, "boolean");
  });

  test("the addon exports exactly the entry points the TypeScript binding types", () => {
    // Both sides come from tables (native/src's entry-point tables and the op table; NativeCore's
    // names and the generated op names): a function added, removed or renamed on one side only
    // shows up here.
    const exported = Object.keys(native).sort();
    const typed = [...nativeEntryPointNames].sort();
    assert.equal(new Set(typed).size, typed.length, "a name is typed twice");
    assert.deepEqual(
      exported.filter((name) => !typed.includes(name as never)),
      [],
      "exported by the addon but not typed in src/engine/native.ts",
    );
    assert.deepEqual(
      typed.filter((name) => !exported.includes(name)),
      [],
      "typed in src/engine/native.ts but not exported by the addon",
    );
    for (const name of exported)
      assert.equal(typeof (native as unknown as Record<string, unknown>)[name], "function");
  });

  test("libtorch errors arrive as TorchError with the op name and libtorch's message", () => {
    scope(() => {
      const a = zeros([2, 3]);
      const b = zeros([4, 5]);
      assert.throws(
        () => a.matmul(b),
        (e: unknown) =>
          e instanceof TorchError &&
          e.op === "matmul" &&
          /mat1 and mat2 shapes cannot be multiplied/.test(e.message),
      );
      // dtype mismatch
      assert.throws(
        () => a.mm(zeros([3, 2], { dtype: "float64" })),
        (e: unknown) => e instanceof TorchError && /expected/i.test(e.message),
      );
      // index out of range
      assert.throws(
        () => a.indexSelect(0, tensor([5], { dtype: "int64" })),
        (e: unknown) =>
          e instanceof TorchError && e.op === "indexSelect" && /index out of range/.test(e.message),
      );
      // backward from a non-scalar needs a gradient
      const x = tensor([1, 2], { requiresGrad: true });
      assert.throws(
        () => x.mul(2).backward(),
        (e: unknown) =>
          e instanceof TorchError && /implicitly created only for scalar outputs/.test(e.message),
      );
    });
  });

  test("moving to CUDA without CUDA is a TorchError, not a crash", {
    skip: runtimeInfo().cudaAvailable && "CUDA is available here",
  }, () => {
    scope(() => {
      assert.throws(() => zeros([2]).to("cuda"), TorchError);
    });
  });

  test("a disposed tensor cannot be used, and disposing twice is harmless", () => {
    const t = zeros([3]);
    t.dispose();
    t.dispose();
    assert.equal(t.isDisposed, true);
    assert.throws(() => t.add(1), /tensor was disposed/);
    assert.equal(String(t), "Tensor(disposed)");
  });

  test("the native layer rejects handles it did not make and arguments of the wrong kind", () => {
    const n = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    const t = zeros([2, 2]);
    assert.throws(() => n.tanh!({}), /argument 1: expected a tensor handle/);
    assert.throws(() => n.tanh!(), /expected 1 arguments/);
    assert.throws(() => n.narrow!(t.handle, 0, 0.5, 1), /argument 3: expected an integer/);
    assert.throws(() => n.reshape!(t.handle, "4"), /expected an array of integers/);
    assert.throws(() => n.cat!([t.handle, 3], 0), /argument 1\[1\]: expected a tensor handle/);
    assert.throws(
      () => n.fromData!(new Float32Array(3), [2, 2], 0, -1),
      /data has 3 elements but shape needs 4/,
    );
    assert.throws(() => n.fromData!(new Float32Array(4), [-2, -2], 0, -1), /non-negative/);
    assert.throws(() => n.fromData!(new Int16Array(4), [4], 0, -1), /supported typed arrays/);
    assert.throws(() => n.toDtype!(t.handle, 9), /unknown dtype code/);
    t.dispose();
  });

  test("every generated op survives garbage arguments without crashing the process", () => {
    const junk: unknown[] = [undefined, null, 1.5, -1, "x", [], [1.5], {}, Number.NaN, 1e300, true];
    const n = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    const t = zeros([2, 2]);
    const before = memory().tensors;
    let threw = 0;
    for (const [name, fn] of Object.entries(n)) {
      if (
        [
          "init",
          "dispose",
          "memory",
          "runtimeInfo",
          "isGradEnabled",
          "getRngState",
          "cudaSynchronize",
        ].includes(name)
      )
        continue;
      if (typeof fn !== "function") continue;
      for (const j of junk) {
        try {
          const out = fn(t.handle, j, j, j);
          if (out && typeof out === "object" && !Array.isArray(out)) native.dispose(out as never);
        } catch {
          threw++;
        }
      }
    }
    assert.ok(threw > 0);
    t.dispose();
    assert.ok(memory().tensors <= before);
  });
});
