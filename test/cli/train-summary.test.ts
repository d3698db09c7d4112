// `spinn train`'s closing line names the best model only when one was saved: a run stopped by
// --max-steps before its first dev evaluation has a checkpoint in last/ and no best/.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-train-summary-"));

function spinn(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const data = path.join(dir, "listops.tsv");
spinn(["listops", "generate", "--count", "64", "--max-length", "10", "--seed", "4", "--out", data]);
const tiny = ["--d-embed", "8", "--d-hidden", "8", "--d-mlp", "8", "--n-mlp", "1", "--batch-size", "16"];
const train = (out: string, more: string[]) =>
  spinn([
    "train",
    "--task",
    "listops",
    "--train",
    data,
    "--dev",
    data,
    "--model",
    "spinn-pi",
    "--out",
    out,
    ...tiny,
    ...more,
  ]);

describe("spinn train's closing line", () => {
  test("stopped before any dev evaluation: no best model is claimed, and none exists", () => {
    const out = path.join(dir, "stopped");
    const stdout = train(out, ["--epochs", "1", "--max-steps", "2"]);
    assert.match(
      stdout,
      /done after 2 steps .*best dev accuracy none yet \(no dev evaluation ran, so no best model\); checkpoint in .*stopped\/last\n$/,
    );
    assert.doesNotMatch(stdout, /\/best/);
    assert.equal(existsSync(path.join(out, "best")), false);
    assert.equal(existsSync(path.join(out, "last", "model.safetensors")), true);
  });

  test("after an evaluation: the best dev accuracy and where its model is", () => {
    const out = path.join(dir, "evaluated");
    const stdout = train(out, ["--epochs", "1"]);
    assert.match(
      stdout,
      /best dev accuracy \d+\.\d\d%; model in .*evaluated\/best; checkpoint in .*evaluated\/last\n$/,
    );
    assert.equal(existsSync(path.join(out, "best", "model.safetensors")), true);
  });
});
