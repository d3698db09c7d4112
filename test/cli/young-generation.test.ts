// The CLI keeps V8's young generation at its starting size (src/cli/young-generation.ts): checked
// in child programs that keep objects alive across many scavenges, and the detection of a size
// the user gave node.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { userSizedYoungGeneration } from "../../src/cli/young-generation.js";

const program = path.join(path.dirname(fileURLToPath(import.meta.url)), "young-generation-program.js");
const MiB = 1 << 20;

function youngGenerationBytes(nodeArgs: string[], mode: "keep" | "default"): number {
  const run = spawnSync(process.execPath, [...nodeArgs, program, mode], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  assert.equal(run.status, 0, run.stderr);
  return Number(run.stdout.trim());
}

test("the young generation stays at its starting size once kept small", () => {
  const grown = youngGenerationBytes([], "default");
  const kept = youngGenerationBytes([], "keep");
  assert.ok(grown >= 8 * MiB, `without the setting V8 grows it (here to ${grown / MiB} MiB)`);
  assert.ok(kept <= 2 * MiB, `kept at ${kept / MiB} MiB`);
});

test("a size the user gave node wins over keeping it small", () => {
  const userSized = youngGenerationBytes(["--max-semi-space-size=8"], "keep");
  assert.ok(userSized > 2 * MiB, `the user's 8 MiB semi-spaces grew (to ${userSized / MiB} MiB)`);
});

test("the user's young-generation options are found on node's command line and in NODE_OPTIONS", () => {
  assert.equal(userSizedYoungGeneration(["--max-semi-space-size=2"], ""), true);
  assert.equal(userSizedYoungGeneration([], "--trace-gc  --max_semi_space_size=4"), true);
  assert.equal(userSizedYoungGeneration(["--semi-space-growth-factor=2"], ""), true);
  assert.equal(userSizedYoungGeneration(["--enable-source-maps"], "--max-old-space-size=4096"), false);
  assert.equal(userSizedYoungGeneration([], ""), false);
});
