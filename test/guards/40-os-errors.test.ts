// Operating-system errors (a full disk, an I/O error, a path through a file, a directory where a
// file goes) are one line naming the path and the problem, never a stack trace, and leave what
// was on disk before intact. A full disk is simulated with SPINN_TEST_WRITE_FAULT (fs-errors.ts).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { exitCodeOf, userMessage } from "../../src/cli/errors.js";
import { generateListOps } from "../../src/index.js";
import { writeFileAtomic } from "../../src/util/atomic-write.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-oserr-"));
const tiny = ["--d-embed", "16", "--d-hidden", "16", "--d-tracker", "8", "--d-mlp", "16", "--n-mlp", "1"];

function spinn(args: string[], fault?: string) {
  const env = { ...process.env, SPINN_TEST_WRITE_FAULT: fault ?? "" };
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env });
}

function errno(code: string, syscall: string, file?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: x, ${syscall}`), { code, errno: -1, syscall, path: file });
}

describe("writeFileAtomic under a write fault", () => {
  afterEach(() => {
    delete process.env.SPINN_TEST_WRITE_FAULT;
  });

  test("the error names the target file, the old file stays, no temp file is left", () => {
    const sub = path.join(dir, "atomic");
    const file = path.join(sub, "state.json");
    writeFileAtomic(file, "old\n");
    process.env.SPINN_TEST_WRITE_FAULT = "ENOSPC:state.json";
    const err = (() => {
      try {
        writeFileAtomic(file, "new\n");
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(err instanceof Error);
    assert.equal(userMessage(err), `${file}: no space left on device (ENOSPC in write)`);
    assert.equal(exitCodeOf(err), 4);
    assert.equal(readFileSync(file, "utf8"), "old\n");
    assert.deepEqual(readdirSync(sub), ["state.json"]);
  });
});

test("errno codes read as words; a wrong path exits 2, a failing system 4; no path is a bug", () => {
  const cases: [string, string, number][] = [
    ["EROFS", "read-only file system", 4],
    ["EACCES", "permission denied", 2],
    ["ENOTDIR", "a component of the path is not a directory", 2],
    ["EISDIR", "is a directory", 2],
    ["EIO", "input/output error", 4],
  ];
  for (const [code, words, exit] of cases) {
    const e = errno(code, "open", "/x/y");
    assert.equal(userMessage(e), `/x/y: ${words} (${code} in open)`);
    assert.equal(exitCodeOf(e), exit);
  }
  assert.equal(userMessage(errno("ENOSPC", "write")), null);
});

describe("the CLI on file-system errors", () => {
  const data = path.join(dir, "d.tsv");
  writeFileSync(data, `${generateListOps({ count: 120, seed: 5, maxLength: 12 }).lines.join("\n")}\n`);
  const base = ["train", "--task", "listops", "--train", data, "--dev", data, "--model", "spinn-pi", ...tiny];

  test("a full disk while checkpointing: one line, exit 4, the checkpoint before intact, resume exact", () => {
    const out = path.join(dir, "run");
    assert.equal(spinn([...base, "--out", out, "--epochs", "1"]).status, 0);
    const before = readFileSync(path.join(out, "last", "trainer.json"), "utf8");
    const weights = readFileSync(path.join(out, "last", "model.safetensors"));
    const r = spinn(["train", "--out", out, "--resume", "--epochs", "2"], "ENOSPC:model.safetensors");
    assert.equal(r.status, 4, r.stderr);
    const last = r.stderr.trim().split("\n").at(-1)!;
    assert.match(
      last,
      /^spinn: .*run\/(best|last)[^/]*\/model\.safetensors: no space left on device \(ENOSPC in write\)$/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    assert.equal(readFileSync(path.join(out, "last", "trainer.json"), "utf8"), before);
    assert.deepEqual(readFileSync(path.join(out, "last", "model.safetensors")), weights);
    assert.deepEqual(readdirSync(out).sort(), ["best", "last", "metrics.jsonl"]);
    // With space again, the resumed run ends with the weights of an uninterrupted one.
    assert.equal(spinn(["train", "--out", out, "--resume", "--epochs", "2"]).status, 0);
    const straight = path.join(dir, "straight");
    assert.equal(spinn([...base, "--out", straight, "--epochs", "2"]).status, 0);
    assert.deepEqual(
      readFileSync(path.join(out, "last", "model.safetensors")),
      readFileSync(path.join(straight, "last", "model.safetensors")),
    );
  });

  test("a failing metrics append names metrics.jsonl", () => {
    const out = path.join(dir, "metrics-run");
    const r = spinn([...base, "--out", out, "--epochs", "1"], "EIO:metrics.jsonl");
    assert.equal(r.status, 4, r.stderr);
    assert.equal(
      r.stderr.trim().split("\n").at(-1),
      `spinn: ${out}/metrics.jsonl: input/output error (EIO in write)`,
    );
  });

  test("--out under a file and --report onto a directory: one line each, exit 2", () => {
    const r = spinn([...base, "--out", path.join(data, "run"), "--epochs", "1"]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      `spinn: ${path.join(data, "run")}: a component of the path is not a directory (ENOTDIR in mkdir)\n`,
    );
    const reportDir = path.join(dir, "reports");
    mkdirSync(reportDir);
    const e = spinn(["eval", "--model-dir", path.join(dir, "run"), "--data", data, "--report", reportDir]);
    assert.equal(e.status, 2, e.stderr);
    assert.equal(e.stderr, `spinn: ${reportDir}: is a directory (EISDIR in rename)\n`);
  });
});
