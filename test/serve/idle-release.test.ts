// The model worker's release of free memory: once, a delay after its last work ended, and never
// while work runs.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { IdleRelease } from "../../src/serve/idle-release.js";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
afterEach(() => mock.timers.reset());

function counted(delayMs: number): { idle: IdleRelease; releases: () => number } {
  let n = 0;
  return { idle: new IdleRelease(() => n++, delayMs), releases: () => n };
}

test("releases once, delayMs after the work ended", () => {
  const { idle, releases } = counted(1000);
  idle.busy();
  idle.idle();
  mock.timers.tick(999);
  assert.equal(releases(), 0);
  mock.timers.tick(1);
  assert.equal(releases(), 1);
  mock.timers.tick(10_000);
  assert.equal(releases(), 1, "no second release without new work");
});

test("work that starts within the delay cancels the release; the delay counts from the last work", () => {
  const { idle, releases } = counted(1000);
  idle.idle();
  mock.timers.tick(600);
  idle.busy();
  mock.timers.tick(5_000);
  assert.equal(releases(), 0, "no release while work runs");
  idle.idle();
  mock.timers.tick(600);
  idle.idle(); // more work ended before the delay passed
  mock.timers.tick(600);
  assert.equal(releases(), 0);
  mock.timers.tick(400);
  assert.equal(releases(), 1);
});

test("no work, no release", () => {
  const { releases } = counted(1000);
  mock.timers.tick(10_000);
  assert.equal(releases(), 0);
});
