import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/data/rng.js";

test("xoshiro128** matches the reference outputs for state [1, 2, 3, 4]", () => {
  const rng = Rng.fromState({ algorithm: "xoshiro128**", s: [1, 2, 3, 4] });
  // First outputs of the reference C implementation from this state.
  assert.equal(rng.nextUint32(), 11520);
  assert.equal(rng.nextUint32(), 0);
  assert.equal(rng.nextUint32(), 5927040);
  assert.equal(rng.nextUint32(), 70819200);
});

test("same seed, same stream; different seeds, different streams", () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xs = Array.from({ length: 8 }, () => a.next());
  assert.deepEqual(
    xs,
    Array.from({ length: 8 }, () => b.next()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 8 }, () => c.next()),
  );
  // Seeds above 32 bits are not truncated.
  assert.notEqual(new Rng(2 ** 32 + 5).next(), new Rng(5).next());
});

test("next() is in [0, 1) and int(n) in [0, n) and roughly uniform", () => {
  const rng = new Rng(7);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60_000; i++) {
    const x = rng.next();
    assert.ok(x >= 0 && x < 1);
    counts[rng.int(6)]++;
  }
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `count ${c}`);
  assert.throws(() => rng.int(0), /integer in \[1, 2\^32\]/);
  assert.throws(() => rng.int(1.5), /integer/);
});

test("normal() has mean 0 and standard deviation 1", () => {
  const rng = new Rng(3);
  let sum = 0;
  let sumSq = 0;
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const x = rng.normal();
    sum += x;
    sumSq += x * x;
  }
  assert.ok(Math.abs(sum / n) < 0.02);
  assert.ok(Math.abs(Math.sqrt(sumSq / n) - 1) < 0.02);
});

test("shuffle is a seeded permutation", () => {
  const a = new Rng(1).shuffle(Array.from({ length: 20 }, (_, i) => i));
  const b = new Rng(1).shuffle(Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(a, b);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.notDeepEqual(
    a,
    Array.from({ length: 20 }, (_, i) => i),
  );
});

test("state export/import resumes the exact stream, through JSON", () => {
  const rng = new Rng(99);
  for (let i = 0; i < 10; i++) rng.next();
  const saved = JSON.parse(JSON.stringify(rng.getState()));
  const expected = [rng.next(), rng.int(1000), rng.normal()];
  const resumed = Rng.fromState(saved);
  assert.deepEqual([resumed.next(), resumed.int(1000), resumed.normal()], expected);
});

test("invalid states are rejected", () => {
  const rng = new Rng(0);
  assert.throws(() => rng.setState({ algorithm: "xoshiro128**", s: [0, 0, 0, 0] }), /all-zero/);
  assert.throws(() => rng.setState({ algorithm: "xoshiro128**", s: [1, 2, 3] as never }), /four unsigned/);
  assert.throws(() => rng.setState({ algorithm: "mt" as never, s: [1, 2, 3, 4] }), /xoshiro128/);
  assert.throws(() => new Rng(0.5), /safe integer/);
});
