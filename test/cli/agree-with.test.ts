// `spinn eval --agree-with DIR_OR_NAME`: the other model may be a directory or a shipped model's
// name, as `--model` and `spinn serve --model` take them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { generateListOps } from "../../src/index.js";
import { pretrainedDir } from "../../src/models/pretrained.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-agree-"));

function spinn(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
}

test("--agree-with takes a shipped model's name, a directory, and names the shipped ones when neither", () => {
  const data = path.join(dir, "lo.tsv");
  writeFileSync(data, `${generateListOps({ count: 30, seed: 8, maxLength: 12 }).lines.join("\n")}\n`);
  const agreeWith = (other: string) =>
    spinn(["eval", "--model", "listops-pi", "--data", data, "--agree-with", other, "--json"]);

  const self = agreeWith("listops-pi");
  assert.equal(self.status, 0, self.stderr);
  const s = JSON.parse(self.stdout) as { agreement: { model: string; f1: number; sentences: number } };
  assert.equal(s.agreement.model, pretrainedDir("listops-pi"));
  assert.equal(s.agreement.f1, 1); // a model agrees with itself
  assert.equal(s.agreement.sentences, 30);

  const byName = agreeWith("listops-rl");
  const byDir = agreeWith(pretrainedDir("listops-rl"));
  assert.equal(byName.status, 0, byName.stderr);
  assert.deepEqual(JSON.parse(byName.stdout).agreement, JSON.parse(byDir.stdout).agreement);

  const neither = agreeWith("no-such-model");
  assert.equal(neither.status, 2);
  assert.match(
    neither.stderr,
    /^spinn: --agree-with no-such-model: no such model directory, nor a shipped model \(shipped: .*listops-rl/,
  );
});
