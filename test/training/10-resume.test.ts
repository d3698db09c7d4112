// Exact resume: a run stopped part-way (cleanly, or killed with SIGKILL) and resumed ends with the
// same weights as an uninterrupted run; a crash while a checkpoint is written leaves the previous
// checkpoint intact.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_TRAIN_BATCH_TOKENS, trainingBatches } from "../../src/data/batching.js";
import { generateListOps } from "../../src/data/listops-generate.js";
import { Rng } from "../../src/data/rng.js";
import { resolveCheckpointDir, writeDirAtomic } from "../../src/models/checkpoint-dir.js";
import { lengthKeys, readTaskData } from "../../src/tasks/task.js";
import { defaultTrainOptions, resumedOptions, type TrainOptions } from "../../src/training/options.js";
import { train } from "../../src/training/trainer.js";
import { elapsedSeconds, metricsWithoutStamps } from "./metrics-stamps.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-resume-"));
const trainFile = path.join(dir, "train.tsv");
const devFile = path.join(dir, "dev.tsv");
const data = generateListOps({ count: 260, seed: 4, maxLength: 12 });
writeFileSync(
  trainFile,
  data.lines
    .slice(0, 200)
    .map((l) => `${l}\n`)
    .join(""),
);
writeFileSync(
  devFile,
  data.lines
    .slice(200)
    .map((l) => `${l}\n`)
    .join(""),
);

function options(out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return defaultTrainOptions({
    task: "listops",
    train: trainFile,
    dev: devFile,
    out,
    model: "spinn-pi",
    epochs: 3,
    batchSize: 16,
    seed: 9,
    dEmbed: 8,
    dHidden: 8,
    dTracker: 4,
    dMlp: 8,
    nMlp: 1,
    embedDropout: 0.2, // dropout draws must resume exactly too
    mlpDropout: 0.2,
    evalEvery: 5,
    ...extra,
  });
}

/** The CLI form of options(): the same run. */
const cliArgs = (out: string) => [
  cli,
  "train",
  "--task",
  "listops",
  "--train",
  trainFile,
  "--dev",
  devFile,
  "--model",
  "spinn-pi",
  "--out",
  out,
  "--epochs",
  "3",
  "--batch-size",
  "16",
  "--seed",
  "9",
  "--d-embed",
  "8",
  "--d-hidden",
  "8",
  "--d-tracker",
  "4",
  "--d-mlp",
  "8",
  "--n-mlp",
  "1",
  "--eval-every",
  "5",
  "--json",
];

const weights = (out: string) => readFileSync(path.join(out, "last", "model.safetensors"));

/**
 * Trains `name` (options() plus `extra`) in one go and in two parts, stopped after 7 steps and
 * resumed (`between` looks at the checkpoint in between), and asserts the same steps and weights.
 * Returns the whole run's directory.
 */
async function assertResumesExactly(
  name: string,
  extra: Partial<TrainOptions>,
  between: (parts: string) => void = () => {},
): Promise<string> {
  const whole = path.join(dir, `${name}-whole`);
  const full = await train(options(whole, extra));
  const parts = path.join(dir, `${name}-parts`);
  await train(options(parts, { ...extra, maxSteps: 7 }));
  between(parts);
  const rest = await train(options(parts, extra), {}, true);
  assert.equal(rest.steps, full.steps);
  assert.deepEqual(weights(parts), weights(whole));
  return whole;
}

describe("resume", () => {
  test("stopping after some steps and resuming gives the uninterrupted run's weights", async () => {
    const whole = path.join(dir, "whole");
    const full = await train(options(whole));
    const parts = path.join(dir, "parts");
    const first = await train(options(parts, { maxSteps: 7 })); // mid-epoch, between evaluations
    assert.equal(first.steps, 7);
    const second = await train(options(parts, { maxSteps: 17 }), {}, true);
    assert.equal(second.steps, 17);
    const rest = await train(options(parts), {}, true);
    assert.equal(rest.steps, full.steps);
    assert.equal(rest.bestDevAccuracy, full.bestDevAccuracy);
    assert.deepEqual(weights(parts), weights(whole));
    assert.deepEqual(
      metricsWithoutStamps(path.join(parts, "metrics.jsonl")),
      metricsWithoutStamps(path.join(whole, "metrics.jsonl")),
    );
    // The resumed processes continue the training time where the checkpoint left it.
    const elapsed = elapsedSeconds(path.join(parts, "metrics.jsonl"));
    for (let i = 1; i < elapsed.length; i++) assert.ok(elapsed[i]! >= elapsed[i - 1]!, `${elapsed}`);
  });

  test("a checkpoint from before an option existed resumes with that option's default", async () => {
    const parts = path.join(dir, "older");
    await train(options(parts, { maxSteps: 7 }));
    const file = path.join(parts, "last", "trainer.json");
    const saved = JSON.parse(readFileSync(file, "utf8"));
    for (const key of ["reward", "baseline", "baselineDecay", "entropyWeight"]) delete saved.options[key];
    delete saved.rewardAverage;
    writeFileSync(file, JSON.stringify(saved));
    // Checkpoints that old had no manifest either (its checksum would not match the edit).
    rmSync(path.join(parts, "last", "manifest.json"));
    const rest = await train(options(parts), {}, true);
    const full = await train(options(path.join(dir, "older-whole")));
    assert.equal(rest.steps, full.steps);
    assert.deepEqual(weights(parts), weights(path.join(dir, "older-whole")));
  });

  test("a new run saves the default token budget; one saved without it resumes on count batches, exactly", async () => {
    const parts = path.join(dir, "before-budget");
    await train(options(parts, { maxSteps: 7 }));
    const file = path.join(parts, "last", "trainer.json");
    const saved = JSON.parse(readFileSync(file, "utf8"));
    assert.equal(saved.options.batchTokens, DEFAULT_TRAIN_BATCH_TOKENS);
    // A checkpoint written before the budget was the default: no field, and count batches.
    delete saved.options.batchTokens;
    writeFileSync(file, JSON.stringify(saved));
    rmSync(path.join(parts, "last", "manifest.json"));
    assert.equal(resumedOptions(saved.options, { out: parts }).batchTokens, 0);
    // Today's default is not that run's: asking for it is refused, naming the flag.
    await assert.rejects(train(options(parts), {}, true), {
      name: "ResumeError",
      message: new RegExp(`--batch-tokens ${DEFAULT_TRAIN_BATCH_TOKENS} differs from the saved run's 0`),
    });
    const rest = await train(options(parts, { batchTokens: 0 }), {}, true);
    const full = await train(options(path.join(dir, "before-budget-whole"), { batchTokens: 0 }));
    assert.equal(rest.steps, full.steps);
    assert.deepEqual(weights(parts), weights(path.join(dir, "before-budget-whole")));
  });

  test("batches: 0 is count batches, a budget cuts them, the default leaves short examples whole", async () => {
    const steps = async (name: string, batchTokens: number) =>
      (await train(options(path.join(dir, name), { epochs: 1, evalEvery: 0, batchTokens }))).steps;
    // 200 examples in batches of 16: 13 batches. The longest example has 12 tokens, so a batch
    // costs at most 16 × 23 = 368 sentences × transitions, far below the default budget.
    assert.equal(await steps("count", 0), 13);
    assert.equal(await steps("default-budget", DEFAULT_TRAIN_BATCH_TOKENS), 13);
    // A budget of 100: at most 4 examples of 12 tokens (4 × 23 = 92), more of shorter ones.
    const budgeted = trainingBatches(lengthKeys(await readTaskData(trainFile, "listops")), {
      batchSize: 16,
      rng: new Rng(9),
      batchTokens: 100,
    });
    assert.ok(budgeted.length > 13);
    assert.equal(await steps("budget", 100), budgeted.length);
  });

  test("RL-SPINN (sampled trees, moving-average baseline) resumes exactly too", async () => {
    const rl = { model: "rl-spinn", baseline: "moving-average", entropyWeight: 0.01 } as const;
    await assertResumesExactly("rl", rl, (parts) => {
      const saved = JSON.parse(readFileSync(path.join(parts, "last", "trainer.json"), "utf8"));
      assert.equal(typeof saved.rewardAverage, "number");
    });
  });

  test("RL-SPINN with --policy-lr (Adam, two parameter groups) and a decaying entropy bonus resumes exactly", async () => {
    const rl = {
      model: "rl-spinn",
      optimizer: "adam",
      lr: 0.004,
      policyLr: 0.02,
      entropyWeight: 0.05,
      entropyDecay: "linear",
      entropyDecaySteps: 20,
    } as const;
    const whole = await assertResumesExactly("rl-policy", rl);
    // The policy's own rate did something: a run at the shared rate ends elsewhere.
    const shared = path.join(dir, "rl-policy-shared");
    await train(options(shared, { ...rl, policyLr: undefined }));
    assert.notDeepEqual(weights(shared), weights(whole));
  });

  test("RL-SPINN with the learned baseline (a value head in the model) resumes exactly", async () => {
    const whole = await assertResumesExactly("rl-learned", { model: "rl-spinn", baseline: "learned" });
    const config = JSON.parse(readFileSync(path.join(whole, "last", "config.json"), "utf8"));
    assert.equal(config.model.valueHead, true);
  });

  test("RL-SPINN with PPO passes (--ppo-epochs 3) resumes exactly", async () => {
    const rl = { model: "rl-spinn", optimizer: "adam", lr: 0.004, ppoEpochs: 3, ppoClip: 0.1 } as const;
    const whole = await assertResumesExactly("rl-ppo", rl);
    // The extra passes did something: one pass ends elsewhere.
    const once = path.join(dir, "rl-ppo-once");
    await train(options(once, { ...rl, ppoEpochs: 1, policyLr: 0.004 }));
    assert.notDeepEqual(weights(once), weights(whole));
  });

  test("RL-SPINN with a separate parser and PPO passes resumes exactly; the parser is in the saved model", async () => {
    const rl = {
      model: "rl-spinn",
      parser: "separate",
      parserHidden: 5,
      optimizer: "adam",
      ppoEpochs: 2,
    } as const;
    const whole = await assertResumesExactly("rl-parser", rl);
    const config = JSON.parse(readFileSync(path.join(whole, "last", "config.json"), "utf8"));
    assert.equal(config.model.parser.dHidden, 5);
  });

  test("RL-SPINN with a merge parser and PPO passes (merge orders rescored) resumes exactly", async () => {
    const rl = {
      model: "rl-spinn",
      parser: "merge",
      parserHidden: 5,
      optimizer: "adam",
      ppoEpochs: 2,
    } as const;
    const whole = await assertResumesExactly("rl-merge", rl);
    const config = JSON.parse(readFileSync(path.join(whole, "last", "config.json"), "utf8"));
    assert.deepEqual(config.model.parser, {
      kind: "merge",
      dEmbed: config.model.dEmbed,
      dHidden: 5,
      dTracker: config.model.dTracker,
    });
  });

  test("SIGKILL during training, then --resume, gives the uninterrupted run's weights", async () => {
    const whole = path.join(dir, "cli-whole");
    assert.equal(spawnSync(process.execPath, cliArgs(whole)).status, 0);

    const killed = path.join(dir, "cli-killed");
    const child = spawn(process.execPath, cliArgs(killed), { stdio: "ignore" });
    const trainerJson = path.join(killed, "last", "trainer.json");
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (existsSync(trainerJson) && JSON.parse(readFileSync(trainerJson, "utf8")).step >= 10) {
          clearInterval(poll);
          child.kill("SIGKILL");
          resolve();
        }
      }, 5);
      child.on("exit", () => {
        clearInterval(poll);
        reject(new Error("the run finished before it could be killed"));
      });
    }).catch((e) => assert.fail(e));
    await new Promise((r) => child.on("exit", r));
    const resumed = spawnSync(process.execPath, [cli, "train", "--out", killed, "--resume", "--json"], {
      encoding: "utf8",
    });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(weights(killed), weights(whole));
  });

  test("Ctrl-C (SIGINT) checkpoints and exits with 130; --resume then finishes the run exactly", async () => {
    const out = path.join(dir, "cli-sigint");
    const child = spawn(process.execPath, cliArgs(out), { stdio: "ignore" });
    const trainerJson = path.join(out, "last", "trainer.json");
    const poll = setInterval(() => {
      if (existsSync(trainerJson)) {
        clearInterval(poll);
        child.kill("SIGINT");
      }
    }, 5);
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    clearInterval(poll);
    assert.equal(code, 130);
    const resumed = spawnSync(process.execPath, [cli, "train", "--out", out, "--resume", "--json"], {
      encoding: "utf8",
    });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(weights(out), weights(path.join(dir, "cli-whole")));
  });

  test("early stopping ends the run after --patience evaluations without a better dev accuracy", async () => {
    const out = path.join(dir, "patience");
    const r = await train(options(out, { patience: 2, lr: 1e-9, optimizer: "sgd" })); // cannot improve
    assert.equal(r.stoppedEarly, true);
    assert.equal(r.steps, 15); // evaluations at steps 5 (best), 10 and 15 (no better)
    const evals = readFileSync(path.join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(evals.filter((e) => e.type === "eval").length, 3);
  });

  test("a crash while a checkpoint is written leaves the previous one intact", () => {
    const target = path.join(dir, "ckpt");
    writeDirAtomic(target, (d) => writeFileSync(path.join(d, "trainer.json"), "old"));
    // A child process writes half of a new checkpoint and is killed mid-way.
    const script = `
      import { writeFileSync } from "node:fs";
      import { writeDirAtomic } from ${JSON.stringify(path.resolve(here, "../../src/models/checkpoint-dir.js"))};
      writeDirAtomic(${JSON.stringify(target)}, (d) => {
        writeFileSync(d + "/trainer.json", "new, half writ");
        process.kill(process.pid, "SIGKILL");
      });`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script]);
    assert.equal(r.signal, "SIGKILL");
    assert.equal(readFileSync(path.join(resolveCheckpointDir(target)!, "trainer.json"), "utf8"), "old");
    // The window between the two renames: the old checkpoint is only at <target>.old.
    const swapped = path.join(dir, "ckpt2");
    mkdirSync(`${swapped}.old`, { recursive: true });
    writeFileSync(path.join(`${swapped}.old`, "trainer.json"), "previous");
    assert.equal(resolveCheckpointDir(swapped), `${swapped}.old`);
    // The next save completes normally over the leftovers.
    writeDirAtomic(swapped, (d) => writeFileSync(path.join(d, "trainer.json"), "next"));
    assert.equal(readFileSync(path.join(resolveCheckpointDir(swapped)!, "trainer.json"), "utf8"), "next");
    assert.equal(existsSync(`${swapped}.old`), false);
  });
});
