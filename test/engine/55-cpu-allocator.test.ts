// Where CPU tensors' memory comes from (native/src/cpu_allocator.cpp): mimalloc where
// libmimalloc.so.2 is installed, libtorch's default (glibc) with SPINN_ALLOCATOR=system. Each
// choice runs in a child process, since the addon reads it once as it loads.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { zeros } from "../../src/engine/index.js";

const program = fileURLToPath(new URL("./cpu-allocator-program.js", import.meta.url));
const largeBlocksProgram = fileURLToPath(new URL("./large-blocks-program.js", import.meta.url));

interface ProgramResult {
  allocator: string;
  values: number[];
  burst: { before: number; peak: number; after: number };
  burstBetweenBatches: { before: number; peak: number; after: number };
}

function runProgram(allocator: string | undefined): {
  status: number | null;
  stderr: string;
  result?: ProgramResult;
} {
  const env = { ...process.env };
  delete env.SPINN_ALLOCATOR;
  if (allocator !== undefined) env.SPINN_ALLOCATOR = allocator;
  const child = spawnSync(process.execPath, [program], { encoding: "utf8", env });
  const result = child.status === 0 ? (JSON.parse(child.stdout) as ProgramResult) : undefined;
  return { status: child.status, stderr: child.stderr, result };
}

test("both allocators give the same bits: a seeded training with tensors of many sizes", () => {
  const system = runProgram("system");
  assert.equal(system.status, 0, system.stderr);
  assert.equal(system.result!.allocator, "system");
  const byDefault = runProgram(undefined);
  assert.equal(byDefault.status, 0, byDefault.stderr);
  const { values } = byDefault.result!;
  assert.equal(values.length, system.result!.values.length);
  assert.ok(values.every(Number.isFinite));
  assert.deepEqual(values, system.result!.values);
});

test("releaseFreeMemory gives the pages of freed tensors back to the OS, whichever allocator holds them", () => {
  for (const allocator of ["system", undefined] as const) {
    const run = runProgram(allocator);
    assert.equal(run.status, 0, run.stderr);
    const { before, peak, after } = run.result!.burst;
    const label = `${run.result!.allocator}: RSS ${before.toFixed(0)} → ${peak.toFixed(0)} → ${after.toFixed(0)} MiB`;
    assert.ok(peak - before > 400, `${label}: the burst holds 512 MiB of tensors at its peak`);
    assert.ok(after - before < 64, `${label}: released after the burst`);
    // Between batches, the large-block range (mimalloc) keeps 32 MiB of free pages for the next
    // batch; glibc releases as always.
    const again = run.result!.burstBetweenBatches;
    const kept = again.after - after;
    const label2 = `${label}; between batches ${again.before.toFixed(0)} → ${again.peak.toFixed(0)} → ${again.after.toFixed(0)} MiB`;
    assert.ok(again.peak - again.before > 400, `${label2}: the second burst holds its tensors`);
    if (run.result!.allocator === "mimalloc") assert.ok(kept > 16 && kept < 48, `${label2}: ~32 MiB kept`);
    else assert.ok(kept < 16, `${label2}: nothing kept`);
  }
});

test("SPINN_ALLOCATOR: an unknown value is an error naming it; mimalloc where it cannot be opened is an error", () => {
  const unknown = runProgram("tcmalloc");
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /SPINN_ALLOCATOR=tcmalloc: expected mimalloc or system/);
  // The default is mimalloc exactly where libmimalloc.so.2 opens (setup.sh installs it).
  const installed = runProgram(undefined).result!.allocator === "mimalloc";
  const asked = runProgram("mimalloc");
  if (installed) {
    assert.equal(asked.status, 0, asked.stderr);
    assert.equal(asked.result!.allocator, "mimalloc");
  } else {
    assert.notEqual(asked.status, 0);
    assert.match(
      asked.stderr,
      /SPINN_ALLOCATOR=mimalloc: libmimalloc\.so\.2 could not be opened \(apt-get install -y libmimalloc2\.0\)/,
    );
  }
});

test("tensors of 128 KiB and more are placed best-fit in one range; freed neighbours merge; none under the system allocator", (t) => {
  const run = (allocator: string | undefined) => {
    const env = { ...process.env };
    delete env.SPINN_ALLOCATOR;
    if (allocator !== undefined) env.SPINN_ALLOCATOR = allocator;
    const child = spawnSync(process.execPath, [largeBlocksProgram], { encoding: "utf8", env });
    assert.equal(child.status, 0, child.stderr);
    return JSON.parse(child.stdout) as {
      allocator: string;
      steps: Record<string, { used: number; free: number; top: number }>;
    };
  };
  const system = run("system");
  for (const usage of Object.values(system.steps)) assert.deepEqual(usage, { used: 0, free: 0, top: 0 });
  const byDefault = run(undefined);
  if (byDefault.allocator !== "mimalloc") {
    t.skip("libmimalloc.so.2 is not installed: the range comes with the mimalloc allocator");
    return;
  }
  // MiB: a, b, c side by side; a freed leaves a hole below the top; d (0.75) goes into it;
  // b freed merges with the rest of a's hole (2.25); e (3) does not fit there and raises the
  // top; f (2) takes the smallest hole that holds it; all freed, the range is empty again.
  assert.deepEqual(byDefault.steps, {
    three: { used: 4, free: 0, top: 4 },
    firstFreed: { used: 3, free: 1, top: 4 },
    smallerInItsPlace: { used: 3.75, free: 0.25, top: 4 },
    neighboursMerged: { used: 1.75, free: 2.25, top: 4 },
    tooLargeForTheHole: { used: 4.75, free: 2.25, top: 7 },
    bestFit: { used: 6.75, free: 0.25, top: 7 },
    allFreed: { used: 0, free: 0, top: 0 },
  });
});

test("a tensor larger than memory is an error that says how many bytes were asked for", () => {
  // 10^14 floats: more than any machine's memory, whichever allocator this process runs.
  assert.throws(
    () => zeros([1e7, 1e7]),
    /can't allocate memory: you tried to allocate 400000000000000 bytes/,
  );
});
