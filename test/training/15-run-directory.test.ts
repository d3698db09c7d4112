// Run directories under faults (issue 11): crashes at named points of a checkpoint write and of
// the recovery after it, torn metrics, copied and moved runs, relative paths from another working
// directory, the lock, --resume with contradicting flags, and corrupted files read back. Kills use
// the SPINN_TEST_CRASH_AT hook (src/util/test-hooks.ts): SIGKILL at an exact point, like kill -9.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { generateListOps } from "../../src/data/listops-generate.js";
import { defaultTrainOptions, type TrainOptions } from "../../src/training/options.js";
import { train } from "../../src/training/trainer.js";
import { metricsWithoutStamps } from "./metrics-stamps.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-rundir-"));
const trainFile = path.join(dir, "train.tsv");
const devFile = path.join(dir, "dev.tsv");
const data = generateListOps({ count: 260, seed: 4, maxLength: 12 });
const trainText = data.lines
  .slice(0, 200)
  .map((l) => `${l}\n`)
  .join("");
const devText = data.lines
  .slice(200)
  .map((l) => `${l}\n`)
  .join("");
writeFileSync(trainFile, trainText);
writeFileSync(devFile, devText);

const tiny = ["--d-embed", "8", "--d-hidden", "8", "--d-tracker", "4", "--d-mlp", "8", "--n-mlp", "1"];
/** `spinn train` of one small run (3 epochs of 13 batches, dev every 5 steps) into `out`. */
const trainArgs = (out: string, train = trainFile, dev = devFile, epochs = "3") => [
  "train",
  ...["--task", "listops", "--train", train, "--dev", dev, "--model", "spinn-pi", "--out", out],
  ...["--epochs", epochs, "--batch-size", "16", "--seed", "9", "--eval-every", "5", ...tiny, "--json"],
];

function spinn(args: string[], options: { cwd?: string; crashAt?: string } = {}) {
  const env = { ...process.env, SPINN_TEST_CRASH_AT: options.crashAt ?? "" };
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: options.cwd, env });
}

/** `--resume` to the end (the saved run stopped at --max-steps 7); later flags override. */
const resume = (out: string, options: { cwd?: string; crashAt?: string } = {}, ...flags: string[]) =>
  spinn(["train", "--out", out, "--resume", "--json", "--max-steps", "0", ...flags], options);

const bytes = (out: string, file: string) => readFileSync(path.join(out, file));

/** A user error: exit code 2 and exactly one line on stderr, matching `pattern`. */
function assertOneLine(r: ReturnType<typeof spinn>, pattern: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
}

// The uninterrupted run, and one stopped after 7 steps that each test copies and resumes.
const whole = path.join(dir, "whole");
const base = path.join(dir, "base");
const setUp = (() => {
  let done = false;
  return () => {
    if (done) return;
    assert.equal(spinn(trainArgs(whole)).status, 0);
    const r = spinn([...trainArgs(base), "--max-steps", "7"]);
    assert.equal(r.status, 0, r.stderr);
    done = true;
  };
})();

function copyOfBase(name: string): string {
  setUp();
  const out = path.join(dir, name);
  cpSync(base, out, { recursive: true });
  return out;
}

/** A resumed run finished exactly like the uninterrupted one, and left nothing behind. */
function assertFinishedLikeWhole(out: string): void {
  for (const file of ["last/model.safetensors", "best/model.safetensors"])
    assert.deepEqual(bytes(out, file), bytes(whole, file), file);
  const metrics = (run: string) => metricsWithoutStamps(path.join(run, "metrics.jsonl"));
  assert.deepEqual(metrics(out), metrics(whole));
  assert.deepEqual(readdirSync(out).sort(), ["best", "last", "metrics.jsonl"]);
}

describe("checkpoints survive a crash, and a crash during the recovery after it", () => {
  // [first crash (while resuming), second crash (while recovering from the first) or null].
  const cases: [string, string | null][] = [
    ["last-filled", "last-recover-removed"], // temp copy half-written: removed
    ["last-sealed", "last-recover-before-rename"], // temp copy whole, newer than last/
    ["last-before-rename", "last-recover-before-rename"], // issue 11, 1a: only .old and the temp copy
    ["last-renamed", "last-recover-removed"], // the new last/ and the previous one as .old
    ["before-rename:metrics.jsonl", null], // metrics being rewound
  ];
  for (const [first, second] of cases) {
    test(`killed at ${first}${second ? `, then at ${second}` : ""}: --resume finishes exactly`, () => {
      const out = copyOfBase(`crash-${first.replace(/\W/g, "-")}`);
      // An interrupted swap of an earlier save: the checkpoint is only at last.old.
      renameSync(path.join(out, "last"), path.join(out, "last.old"));
      const killed = resume(out, { crashAt: first });
      assert.equal(killed.signal, "SIGKILL", killed.stderr);
      if (second) assert.equal(resume(out, { crashAt: second }).signal, "SIGKILL");
      const r = resume(out);
      assert.equal(r.status, 0, r.stderr);
      assertFinishedLikeWhole(out);
    });
  }

  test("killed while saving the first best model: eval reads the sealed temp copy; a new run tidies it", () => {
    setUp();
    const out = path.join(dir, "crash-best");
    assert.equal(spinn(trainArgs(out), { crashAt: "best-before-rename" }).signal, "SIGKILL");
    assert.equal(existsSync(path.join(out, "best")), false);
    const evaluated = spinn(["eval", "--model-dir", out, "--data", devFile, "--json"]);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    // A new run into the directory (it has no rolling checkpoint yet), killed while recovering.
    assert.equal(spinn(trainArgs(out), { crashAt: "best-recover-before-rename" }).signal, "SIGKILL");
    const r = spinn(trainArgs(out));
    assert.equal(r.status, 0, r.stderr);
    assertFinishedLikeWhole(out);
  });

  test("a torn last metrics line (kill during an append) is dropped on resume", () => {
    const out = copyOfBase("torn-metrics");
    writeFileSync(path.join(out, "metrics.jsonl"), `${bytes(out, "metrics.jsonl")}{"type":"train","st`);
    const r = resume(out);
    assert.equal(r.status, 0, r.stderr);
    assertFinishedLikeWhole(out);
  });

  test("a corrupted metrics line before the last is an error naming file and line", () => {
    const out = copyOfBase("bad-metrics");
    writeFileSync(path.join(out, "metrics.jsonl"), `garbage\n${bytes(out, "metrics.jsonl")}`);
    assertOneLine(resume(out), /metrics\.jsonl:1: not a JSON line/);
  });
});

describe("run directories are self-contained", () => {
  test("a copied run resumes in the copy and leaves the original untouched", () => {
    const copy = copyOfBase("copy");
    const before = ["last/model.safetensors", "last/trainer.json", "metrics.jsonl"].map((f) =>
      bytes(base, f),
    );
    const r = resume(copy);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.trim().split("\n").pop()!).out, copy);
    assertFinishedLikeWhole(copy);
    const after = ["last/model.safetensors", "last/trainer.json", "metrics.jsonl"].map((f) => bytes(base, f));
    assert.deepEqual(after, before);
  });

  test("relative --out and data paths: a moved run resumes from another directory, no stray directory", () => {
    setUp();
    const home = path.join(dir, "home");
    const elsewhere = path.join(dir, "elsewhere");
    mkdirSync(home);
    mkdirSync(elsewhere);
    writeFileSync(path.join(home, "train.tsv"), trainText);
    writeFileSync(path.join(home, "dev.tsv"), devText);
    const first = spinn([...trainArgs("run", "train.tsv", "dev.tsv"), "--max-steps", "7"], { cwd: home });
    assert.equal(first.status, 0, first.stderr);
    renameSync(path.join(home, "run"), path.join(home, "moved"));
    const r = resume(path.join("..", "home", "moved"), { cwd: elsewhere });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(elsewhere), []);
    assertFinishedLikeWhole(path.join(home, "moved"));
  });
});

describe("a run directory is locked while a process trains in it", () => {
  const lockOf = (out: string) => path.join(out, "lock");

  test("a second train or --resume into a running run fails at once, naming the PID; Ctrl-C releases", async () => {
    setUp();
    const out = path.join(dir, "locked");
    const child = spawn(process.execPath, [cli, ...trainArgs(out, trainFile, devFile, "500")], {
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    while (!existsSync(path.join(out, "last", "trainer.json"))) await new Promise((r) => setTimeout(r, 20));
    const pid = new RegExp(`another training process \\(PID ${child.pid}\\) is using this run directory`);
    assertOneLine(spinn(trainArgs(out)), pid);
    assertOneLine(resume(out), pid);
    child.kill("SIGINT");
    assert.equal(await exited, 130);
    assert.equal(existsSync(lockOf(out)), false);
  });

  test("a stale lock from a dead process is taken over, saying so in one line", () => {
    const out = copyOfBase("stale-lock");
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(lockOf(out), JSON.stringify({ pid: dead }));
    const r = resume(out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`taking over the lock of process ${dead}, which is no longer running`));
    assert.equal(existsSync(lockOf(out)), false);
  });

  test("the lock is released when the run fails", () => {
    const out = path.join(dir, "failing");
    writeFileSync(path.join(dir, "bad-dev.tsv"), "not listops at all\n");
    const r = spinn(trainArgs(out, trainFile, path.join(dir, "bad-dev.tsv")));
    assert.equal(r.status, 2, r.stderr);
    assert.equal(existsSync(lockOf(out)), false);
  });

  test("in the library, a second train() into the same directory is refused while the first runs", async () => {
    const out = path.join(dir, "library-lock");
    const options: TrainOptions = defaultTrainOptions({
      ...{ task: "listops", train: trainFile, dev: devFile, out, model: "spinn-pi", epochs: 1 },
      ...{ batchSize: 16, dEmbed: 8, dHidden: 8, dTracker: 4, dMlp: 8, nMlp: 1 },
    });
    const first = train(options);
    await assert.rejects(train(options), { name: "RunLockError", message: /PID \d+/ });
    assert.equal((await first).steps, 13);
    assert.equal(existsSync(lockOf(out)), false);
  });
});

describe("--resume refuses flags that contradict the saved run", () => {
  test("a different --lr, --train or --model is refused, naming each; --epochs and --max-steps may change", () => {
    const out = copyOfBase("contradict");
    assertOneLine(
      resume(out, {}, "--lr", "0.1"),
      /--resume: --lr 0\.1 differs from the saved run's 0\.002 \(only --epochs and --max-steps may change\)/,
    );
    const r = resume(out, {}, "--train", devFile, "--model", "lstm", "--task", "listops");
    assertOneLine(r, /--train .*dev\.tsv differs from the saved run's .*train\.tsv; --model lstm differs/);
    assert.doesNotMatch(r.stderr, /--task/);
    const longer = resume(out, {}, "--epochs", "4", "--max-steps", "9", "--train", trainFile);
    assert.equal(longer.status, 0, longer.stderr);
    assert.equal(JSON.parse(longer.stdout.trim().split("\n").pop()!).steps, 9);
  });

  test("--batch-tokens: the saved run's budget may be given again, another is refused", () => {
    const out = copyOfBase("budget");
    const saved = JSON.parse(readFileSync(path.join(out, "last", "trainer.json"), "utf8")).options;
    assertOneLine(
      resume(out, {}, "--batch-tokens", "0"),
      new RegExp(`--resume: --batch-tokens 0 differs from the saved run's ${saved.batchTokens} `),
    );
    const same = resume(out, {}, "--batch-tokens", String(saved.batchTokens), "--max-steps", "8");
    assert.equal(same.status, 0, same.stderr);
    assert.equal(JSON.parse(same.stdout.trim().split("\n").pop()!).steps, 8);
  });

  test("the library's train(options, hooks, true) makes the same check", async () => {
    const out = copyOfBase("contradict-library");
    const saved = JSON.parse(readFileSync(path.join(out, "last", "trainer.json"), "utf8")).options;
    await assert.rejects(train({ ...saved, out, batchSize: 4 }, {}, true), {
      name: "ResumeError",
      message: /--batch-size 4 differs from the saved run's 16/,
    });
  });
});

/** Damages a file of a run directory. */
type Corrupt = (out: string) => void;

const edit = (file: string, f: (b: Buffer) => Buffer | string): Corrupt => {
  return (out) => writeFileSync(path.join(out, file), f(bytes(out, file)));
};
/** Without the manifest (as before manifests existed): each file's own checks must catch the damage. */
const unsealed = (c: Corrupt): Corrupt => {
  return (out) => {
    rmSync(path.join(out, "last", "manifest.json"), { force: true });
    c(out);
  };
};
/** The last float32 of the data section made NaN. */
const nanAtEnd = (b: Buffer) => Buffer.concat([b.subarray(0, b.length - 4), Buffer.from([0, 0, 0xc0, 0x7f])]);
const trainerJson = (f: (s: Record<string, unknown>) => void) =>
  edit("last/trainer.json", (b) => {
    const state = JSON.parse(b.toString());
    f(state);
    return JSON.stringify(state);
  });
/** Damage done to a copy of the 7-step run, and the error --resume must give. */
const corruptions: [string, Corrupt, RegExp][] = [
  [
    "vocab.json {}",
    unsealed(edit("last/vocab.json", () => "{}")),
    /last\/vocab\.json: format: expected "spinn-vocabulary", got nothing\n$/,
  ],
  ["vocab.json edited (sealed)", edit("last/vocab.json", () => "{}"), /last\/vocab\.json: corrupted/],
  ["empty trainer.json", unsealed(edit("last/trainer.json", () => "")), /trainer\.json: empty file/],
  [
    "truncated trainer.json",
    unsealed(edit("last/trainer.json", (b) => b.subarray(0, 100))),
    /trainer\.json: not valid JSON/,
  ],
  [
    "ill-typed trainer.json",
    unsealed(trainerJson((s) => Object.assign(s, { step: "x" }))),
    /trainer\.json: step: expected an integer >= 0, got "x"/,
  ],
  [
    "negative training time in trainer.json",
    unsealed(trainerJson((s) => Object.assign(s, { elapsedSeconds: -1 }))),
    /trainer\.json: elapsedSeconds: expected a number >= 0, got -1/,
  ],
  [
    "ill-typed option in trainer.json",
    unsealed(trainerJson((s) => Object.assign(s.options as object, { lr: "fast" }))),
    /trainer\.json: options\.lr: expected a finite number/,
  ],
  [
    "ill-typed config.json",
    unsealed(edit("last/config.json", (b) => b.toString().replace(/"dHidden": 8/, '"dHidden": -1'))),
    /last\/config\.json: model\.dHidden: expected an integer >= 1, got -1/,
  ],
  [
    "garbled optimizer header",
    unsealed(
      edit("last/optimizer.safetensors", (b) =>
        Buffer.concat([b.subarray(0, 9), Buffer.from("#"), b.subarray(10)]),
      ),
    ),
    /optimizer\.safetensors: header is not valid JSON/,
  ],
  [
    "wrong optimizer tensor names",
    unsealed(
      edit("last/optimizer.safetensors", (b) =>
        Buffer.from(b.toString("latin1").replace("encoder", "encodex"), "latin1"),
      ),
    ),
    /optimizer\.safetensors: optimizer state is missing/,
  ],
  ["garbled weights", edit("last/model.safetensors", nanAtEnd), /last\/model\.safetensors: corrupted/],
  [
    "NaN weights (no manifest)",
    unsealed(edit("last/model.safetensors", nanAtEnd)),
    /model\.safetensors: tensor ".+" holds NaN/,
  ],
  ["garbled manifest", edit("last/manifest.json", () => "{"), /manifest\.json: not valid JSON/],
];

describe("corrupted files read back are one line naming the file and the problem", () => {
  for (const [name, corrupt, pattern] of corruptions) {
    test(name, () => {
      const out = copyOfBase(`corrupt-${name.replace(/\W+/g, "-")}`);
      corrupt(out);
      assertOneLine(resume(out), pattern);
      assert.equal(existsSync(path.join(out, "lock")), false);
    });
  }

  test("eval checks the weights too", () => {
    const out = copyOfBase("corrupt-eval");
    edit("best/model.safetensors", nanAtEnd)(out);
    assertOneLine(
      spinn(["eval", "--model-dir", out, "--data", devFile]),
      /best\/model\.safetensors: corrupted/,
    );
  });
});
