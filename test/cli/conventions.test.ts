// CLI conventions shared by every command: a reader that closes the pipe early ends the command
// quietly with success, and a model is named either by directory or, for shipped ones, by name.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

/** Runs a shell pipeline with the CLI as `spinn`; returns each stage's exit status and stderr. */
function pipeline(command: string) {
  const r = spawnSync(
    "bash",
    [
      "-c",
      `set -o pipefail; spinn() { "${process.execPath}" "${cli}" "$@"; }; ${command}; echo "status=\${PIPESTATUS[*]}" >&2`,
    ],
    {
      encoding: "utf8",
    },
  );
  return r;
}

test("a closed pipe (| head -1) ends the command with exit 0 and nothing on stderr", () => {
  const r = pipeline("spinn demo --help | head -1");
  assert.equal(r.stdout, "Usage: spinn demo [options]\n");
  assert.equal(r.stderr, "status=0 0\n");
  // A long output cut after one line: the writer gets EPIPE while it still has lines to write.
  const big = pipeline("spinn listops generate --count 3000 --seed 1 --out /dev/stdout | head -1");
  assert.equal(big.stdout.split("\n").length, 2);
  assert.equal(big.stderr, "status=0 0\n");
});

test("--model NAME and --model-dir DIR: exactly one, unknown names listed", () => {
  const none = spawnSync(process.execPath, [cli, "eval", "--data", cli], { encoding: "utf8" });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^spinn: give one of --model-dir DIR or --model NAME \(shipped: /);
  const both = spawnSync(process.execPath, [cli, "parse", "--model-dir", "x", "--model", "listops-rl"], {
    encoding: "utf8",
  });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /give one of --model-dir DIR or --model NAME/);
  const unknown = spawnSync(process.execPath, [cli, "predict", "--model", "no-such-model"], {
    encoding: "utf8",
  });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^spinn: no shipped model named "no-such-model" \(shipped: /);
});
