// makeDirectory (src/util/make-directory.ts): `mkdir -p` that ends with an error where Node's
// recursive mkdir never returns (a directory under /proc), and otherwise does what it does.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeDirectory } from "../../src/util/make-directory.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-mkdir-"));
const procfs = existsSync("/proc/self");

function codeOf(f: () => void): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
  return undefined;
}

describe("makeDirectory", () => {
  test("creates every missing parent, and is a no-op on an existing directory", () => {
    const deep = path.join(dir, "a", "b", "c");
    makeDirectory(deep);
    assert.ok(statSync(deep).isDirectory());
    makeDirectory(deep);
    makeDirectory(path.join(dir, "a"));
    assert.ok(statSync(deep).isDirectory());
  });

  test("a file on the way is Node's error: ENOTDIR below it, EEXIST at it", () => {
    const file = path.join(dir, "file");
    writeFileSync(file, "x");
    assert.equal(
      codeOf(() => makeDirectory(path.join(file, "sub", "deeper"))),
      "ENOTDIR",
    );
    assert.equal(
      codeOf(() => makeDirectory(file)),
      "EEXIST",
    );
  });

  test("a directory procfs refuses is ENOENT at once (Node's recursive mkdir spins forever)", {
    skip: procfs ? false : "no /proc here",
  }, () => {
    assert.equal(
      codeOf(() => makeDirectory("/proc/spinn-no-such-dir/run")),
      "ENOENT",
    );
  });

  test("spinn train --out under /proc: one line naming the directory, exit 2", {
    skip: procfs ? false : "no /proc here",
  }, () => {
    const data = path.join(dir, "lo.tsv");
    writeFileSync(data, "3\t[MAX 1 2 3 ]\n2\t[MIN 2 3 ]\n");
    const r = spawnSync(
      process.execPath,
      [
        cli,
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
        "/proc/spinn-run",
        "--epochs",
        "1",
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(r.signal, null, "spinn train did not end");
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, "spinn: /proc/spinn-run: no such file or directory (ENOENT in mkdir)\n");
  });
});
