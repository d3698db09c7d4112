// The pure parts of data-parallel training, checked by hand: how a batch is split over ranks and
// how gradients are grouped into buckets (no process group is joined).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type ProcessGroup, zeros } from "../../src/engine/index.js";
import { shardRange } from "../../src/training/data-parallel.js";
import { GradientBuckets } from "../../src/training/gradient-buckets.js";

describe("data-parallel parts", () => {
  test("shardRange: contiguous parts that cover the batch, sizes differing by at most one", () => {
    assert.deepEqual(shardRange(7, 0, 2), [0, 3]);
    assert.deepEqual(shardRange(7, 1, 2), [3, 7]);
    // Fewer examples than ranks: some parts are empty.
    assert.deepEqual(
      [0, 1, 2].map((r) => shardRange(2, r, 3)),
      [
        [0, 0],
        [0, 1],
        [1, 2],
      ],
    );
    for (const [count, world] of [
      [128, 8],
      [5, 4],
      [1, 2],
      [0, 3],
    ] as const) {
      let next = 0;
      for (let r = 0; r < world; r++) {
        const [start, end] = shardRange(count, r, world);
        assert.equal(start, next);
        assert.ok(end - start === Math.floor(count / world) || end - start === Math.ceil(count / world));
        next = end;
      }
      assert.equal(next, count);
    }
  });

  test("GradientBuckets: parameters in order, buckets of at most the cap (a larger one alone)", () => {
    // float32: 4 bytes an element. Sizes 10, 20, 30, 100 and 5 elements; cap 200 bytes = 50 elements.
    const params = [10, 20, 30, 100, 5].map((n) => zeros([n]));
    const buckets = new GradientBuckets({} as ProcessGroup, params, 200);
    assert.deepEqual(buckets.buckets, [[0, 1], [2], [3], [4]]);
    assert.equal(buckets.bytes, 4 * 165);
    const wide = new GradientBuckets({} as ProcessGroup, [zeros([3], { dtype: "float64" })], 1 << 20);
    assert.deepEqual(wide.buckets, [[0]]);
    assert.equal(wide.bytes, 24);
  });
});
