// The README's library example is this repository's examples/library.ts, and it runs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

test("the README shows examples/library.ts, and it trains, loads and predicts", () => {
  const source = readFileSync(path.join(root, "examples/library.ts"), "utf8");
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const shown = source.replace('from "../src/index.js"', 'from "spinn-ts"');
  const body = shown.slice(shown.indexOf("import {"));
  assert.ok(readme.includes(body), "README.md must show examples/library.ts (with the import from spinn-ts)");
  const r = spawnSync(process.execPath, [path.join(root, "dist/examples/library.js")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /best dev accuracy 0\.\d+/);
  assert.match(r.stdout, /\[MAX 3 \[MIN 4 7 \] 0 \]: predicted \d \(p = 0\.\d+\)/);
});
