// Divergence stops training: a non-finite loss or gradient norm ends the run with a typed error
// (exit code 3 from the CLI), before the update and without writing anything after it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { tensor } from "../../src/engine/index.js";
import {
  DivergenceError,
  defaultTrainOptions,
  generateListOps,
  loadModelDir,
  train,
} from "../../src/index.js";
import { parametersFinite } from "../../src/training/divergence.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-diverge-"));
const data = path.join(dir, "d.tsv");
writeFileSync(data, `${generateListOps({ count: 200, seed: 1, maxLength: 20 }).lines.join("\n")}\n`);
const tiny = ["--d-embed", "16", "--d-hidden", "16", "--d-tracker", "8", "--d-mlp", "16", "--n-mlp", "1"];

function trainSgd(out: string, lr: string, ...more: string[]) {
  const args = ["train", "--task", "listops", "--train", data, "--dev", data, "--model", "spinn-pi"];
  args.push("--out", out, "--batch-size", "32", "--optimizer", "sgd", "--lr", lr, "--clip", "0", ...tiny);
  return spawnSync(process.execPath, [cli, ...args, ...more], { encoding: "utf8" });
}

describe("divergence", () => {
  test("--lr 1e6 without clipping stops at once with exit code 3 and saves nothing", () => {
    const out = path.join(dir, "huge");
    const r = trainSgd(out, "1e6", "--epochs", "3");
    assert.equal(r.status, 3, r.stderr);
    assert.match(
      r.stderr,
      /^spinn: training diverged at step \d+: the (loss|gradient norm) is (NaN|-?Infinity) \(try a lower --lr, or --clip\); kept: nothing/,
    );
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(!existsSync(path.join(out, "best")), "no best model");
    assert.ok(!existsSync(path.join(out, "last")), "no checkpoint");
    const lines = readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n");
    assert.equal(JSON.parse(lines.at(-1)!).type, "diverged");
  });

  test("after a good evaluation, the checkpoint and best model from before stay as they were", () => {
    const out = path.join(dir, "later");
    // lr 30: the first epoch (7 steps) evaluates and checkpoints, the second diverges.
    const r = trainSgd(out, "30", "--epochs", "6");
    assert.equal(r.status, 3, r.stderr);
    const m = /diverged at step (\d+): .*kept: the checkpoint of step (\d+) in (\S+) and the best model/.exec(
      r.stderr,
    );
    assert.ok(m, r.stderr);
    const [diverged, kept] = [Number(m[1]), Number(m[2])];
    assert.ok(kept > 0 && kept < diverged, r.stderr);
    const state = JSON.parse(readFileSync(path.join(out, "last", "trainer.json"), "utf8"));
    assert.equal(state.step, kept);
    // The saved weights are finite, and no file was written after the divergence was reported.
    const model = loadModelDir(path.join(out, "best")).model;
    assert.ok(parametersFinite(model.store.trainable().map(([, t]) => t)));
    model.dispose();
    const metrics = path.join(out, "metrics.jsonl");
    for (const sub of ["best", "last"]) {
      assert.ok(statSync(path.join(out, sub)).mtimeMs <= statSync(metrics).mtimeMs);
    }
  });

  test("a library caller gets a DivergenceError naming the step and the quantity", async () => {
    const options = defaultTrainOptions({
      task: "listops",
      model: "spinn-pi",
      out: path.join(dir, "lib"),
      train: data,
      dev: data,
      epochs: 2,
      batchSize: 32,
      optimizer: "sgd",
      lr: 1e6,
      clip: 0,
      dEmbed: 16,
      dHidden: 16,
      dTracker: 8,
      dMlp: 16,
      nMlp: 1,
    });
    const err = await train(options).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof DivergenceError, String(err));
    assert.ok(err.step >= 1);
    assert.ok(err.quantity === "loss" || err.quantity === "gradient norm");
    assert.ok(!Number.isFinite(err.value));
  });

  test("parametersFinite sees one NaN or infinite value, and not a large finite one", () => {
    assert.equal(parametersFinite([tensor([1, 2]), tensor([3e38, -3e38])]), true);
    assert.equal(parametersFinite([tensor([1, 2]), tensor([0, Number.POSITIVE_INFINITY])]), false);
    assert.equal(parametersFinite([tensor([Number.NaN])]), false);
  });
});
