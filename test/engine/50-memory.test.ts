// Scopes free what they do not return; the live-tensor count stays flat over long training.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  countNativeCalls,
  crossEntropy,
  keep,
  linear,
  manualSeed,
  memory,
  moveToOuter,
  native,
  noGrad,
  randn,
  releaseFreeMemory,
  SGD,
  scope,
  type Tensor,
  tensor,
  zeros,
} from "../../src/engine/index.js";
import { fullGc } from "./gc.js";

describe("memory", () => {
  test("scope disposes intermediates and keeps what it returns, even inside structures", () => {
    const start = memory().tensors;
    const a = zeros([4]);
    let inner: ReturnType<typeof zeros> | undefined;
    const out = scope(() => {
      inner = a.add(1);
      const b = inner.mul(2);
      return { list: [b], map: new Map([["c", b.add(1)]]) };
    });
    assert.equal(inner!.isDisposed, true);
    assert.deepEqual(out.list[0]!.toArray(), [2, 2, 2, 2]);
    assert.deepEqual(out.map.get("c")!.toArray(), [3, 3, 3, 3]);
    assert.equal(memory().tensors, start + 3);
    out.list[0]!.dispose();
    out.map.get("c")!.dispose();
    a.dispose();
    assert.equal(memory().tensors, start);
  });

  test("nested scopes hand results outwards; keep and moveToOuter escape", () => {
    const start = memory().tensors;
    let kept: ReturnType<typeof zeros> | undefined;
    let moved: ReturnType<typeof zeros> | undefined;
    const result = scope(() => {
      const fromInner = scope(() => {
        kept = keep(zeros([1]));
        moved = moveToOuter(zeros([1]));
        zeros([1]); // dropped
        return zeros([2]);
      });
      assert.equal(fromInner.isDisposed, false);
      assert.equal(moved!.isDisposed, false);
      return fromInner.sum();
    });
    assert.equal(moved!.isDisposed, true); // moved only one level out, then freed there
    assert.equal(kept!.isDisposed, false);
    assert.equal(result.item(), 0);
    kept!.dispose();
    result.dispose();
    assert.equal(memory().tensors, start);
  });

  test("a throwing scope still frees its tensors; async functions are refused", () => {
    const start = memory().tensors;
    assert.throws(
      () =>
        scope(() => {
          zeros([10]);
          throw new Error("boom");
        }),
      /boom/,
    );
    assert.equal(memory().tensors, start);
    assert.throws(() => scope(async () => zeros([1])), /synchronous function/);
    assert.equal(memory().tensors, start);
  });

  test("a scope frees its tensors in one native call; counting native calls is off unless asked", () => {
    const before = memory().tensors;
    const stop = countNativeCalls();
    let kept: Tensor | undefined;
    try {
      kept = scope(() => {
        const a = zeros([3]);
        const b = a.add(1).mul(2);
        b.sum().item();
        return b;
      });
    } finally {
      const counts = stop();
      // zeros, add (with a scalar), mul, sum, item, then one disposeMany for a and the sum.
      assert.equal(counts.byName.disposeMany, 1);
      assert.equal(counts.byName.dispose, undefined);
      assert.equal(counts.syncs, 1);
      assert.equal(
        counts.calls,
        Object.values(counts.byName).reduce((x, y) => x + y, 0),
      );
    }
    assert.equal(memory().tensors, before + 1);
    assert.deepEqual(kept.toArray(), [2, 2, 2]);
    kept.dispose();
    assert.equal(memory().tensors, before);
    // Off again: the binding's functions are the originals (no counting wrapper).
    assert.notEqual(native.add.name, "counted");
  });

  test("memory() counts distinct storage bytes (views share storage)", () => {
    scope(() => {
      const before = memory();
      const t = zeros([256], { dtype: "float64" });
      t.reshape(16, 16);
      t.narrow(0, 0, 8);
      const after = memory();
      assert.equal(after.tensors - before.tensors, 3);
      assert.equal(after.bytes - before.bytes, 256 * 8);
    });
  });

  test("10,000 training steps keep the live-tensor count and bytes flat", () => {
    manualSeed(3);
    const w = keep(randn([3, 8]).mul(0.1).setRequiresGrad());
    const b = keep(zeros([3]).setRequiresGrad());
    const opt = new SGD(
      [
        ["w", w],
        ["b", b],
      ],
      { lr: 0.1, momentum: 0.9 },
    );
    const x = keep(randn([16, 8]));
    const y = keep(tensor(new Int32Array(16).map((_, i) => i % 3)));
    const step = (): number =>
      scope(() => {
        opt.zeroGrad();
        const loss = crossEntropy(linear(x, w, b), y);
        loss.backward();
        opt.step();
        return loss.item();
      });
    const first = step();
    for (let i = 0; i < 100; i++) step();
    const settled = memory();
    let last = first;
    for (let i = 0; i < 10_000; i++) last = step();
    const end = memory();
    assert.equal(end.tensors, settled.tensors);
    assert.equal(end.bytes, settled.bytes);
    assert.ok(last < first, `loss should fall: ${first} -> ${last}`);
    noGrad(() => assert.ok(Number.isFinite(last)));
    opt.dispose();
    for (const t of [w, b, x, y]) t.dispose();
  });

  test("a disposed tensor's handle is freed by the next garbage collection (issue 11)", async () => {
    // Each handle holds native memory (its box and finalizer record) until the collector
    // finalizes it. The safety net must not keep disposed handles alive: it did, for two full
    // collections each, and `spinn predict` piled up ~8 handles a line, fragmenting the heap.
    // Settle what earlier tests left for the collector (a handle the safety net held needed two).
    for (let i = 0; i < 4; i++) await fullGc();
    const before = memory();
    const x = keep(randn([8, 8]));
    for (let i = 0; i < 200; i++) scope(() => x.mul(2).add(1).tanh().sum().item());
    x.dispose();
    assert.equal(memory().tensors, before.tensors);
    await fullGc();
    const after = memory();
    assert.equal(after.tensors, before.tensors);
    assert.ok(
      after.handles <= before.handles,
      `${after.handles - before.handles} handles still held after a collection`,
    );
  });

  test("a tensor dropped without dispose() or a scope is freed by the collector and counted", async () => {
    for (let i = 0; i < 4; i++) await fullGc();
    const before = memory();
    (() => {
      for (let i = 0; i < 10; i++) keep(randn([4, 4])); // dropped: no dispose, no scope
    })();
    assert.equal(memory().tensors, before.tensors + 10);
    await fullGc();
    const after = memory();
    assert.equal(after.tensors, before.tensors);
    assert.equal(after.collectedByGc, before.collectedByGc + 10);
  });

  test("releaseFreeMemory returns the native heap's free pages and leaves live tensors alone", () => {
    const x = keep(tensor([1, 2, 3]));
    scope(() => {
      for (let i = 0; i < 50; i++) randn([64, 1024]); // ~13 MB freed at the scope's end
    });
    assert.equal(typeof releaseFreeMemory(), "boolean");
    assert.deepEqual([...x.data()], [1, 2, 3]);
    x.dispose();
  });
});
