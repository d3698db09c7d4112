// SPINN_THREADS and SPINN_BLAS_THREADS (read as the engine loads, src/engine/native.ts): a whole
// number of threads is used, a value that is not one is an error naming it, never a silent default.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

const engine = new URL("../../src/engine/index.js", import.meta.url).href;

function loadWith(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const program = `import(${JSON.stringify(engine)}).then((m) => { const i = m.runtimeInfo(); console.log(JSON.stringify([i.threads, i.blasThreads])); })`;
  return spawnSync(process.execPath, ["-e", program], { encoding: "utf8", env: { ...process.env, ...env } });
}

test("whole numbers set the threads", () => {
  const run = loadWith({ SPINN_THREADS: "2", SPINN_BLAS_THREADS: "1" });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), [2, 1]);
});

test("a value that is not a whole number of threads is an error naming the variable and the value", () => {
  for (const [name, value] of [
    ["SPINN_THREADS", "two"],
    ["SPINN_THREADS", "0"],
    ["SPINN_BLAS_THREADS", "1.5"],
    ["SPINN_BLAS_THREADS", "-1"],
  ] as const) {
    const run = loadWith({ [name]: value });
    assert.notEqual(run.status, 0, `${name}=${value} loads`);
    assert.match(
      run.stderr,
      new RegExp(`${name}=${value.replace(".", "\\.")}: expected a whole number of threads, at least 1`),
    );
  }
});
