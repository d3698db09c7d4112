// The package's own wiring (the pack-and-install run itself is scripts/pack-test.mjs, run by
// .ci/run: it rebuilds dist/, which these tests run from): --version, the addon lookup shared by
// the loader and the install step, and what package.json ships.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../data/helpers.js";

const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));

function node(...args: string[]) {
  return spawnSync(process.execPath, args, { cwd: repoRoot, encoding: "utf8" });
}

test("spinn --version and -V print package.json's version", () => {
  for (const flag of ["--version", "-V"]) {
    const r = node(join(repoRoot, "dist/src/cli/main.js"), flag);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
    assert.equal(r.stderr, "");
  }
});

test("the addon lookup tries prebuilds/<platform>-<arch>/ first, then build/", () => {
  const locator = createRequire(import.meta.url)(join(repoRoot, "scripts/locate-addon.cjs"));
  assert.deepEqual(locator.addonCandidates("/pkg"), [
    `/pkg/prebuilds/${process.platform}-${process.arch}/spinn_native.node`,
    "/pkg/build/spinn_native.node",
  ]);
  assert.ok(locator.existingAddons().includes(join(repoRoot, "build/spinn_native.node")));
});

test("in a checkout the install step leaves the build to `npm run build`", () => {
  const r = node("scripts/install.mjs");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /development checkout, not building/);
});

test("package.json ships the compiled library, the addon's sources and build scripts, on Linux", () => {
  assert.equal(pkg.scripts.install, "node scripts/install.mjs");
  assert.match(pkg.scripts.prepack, /build:ts/);
  assert.deepEqual(pkg.os, ["linux"]);
  assert.ok(pkg.engines.node && pkg.repository.url);
  for (const entry of ["native/src/", "prebuilds/", "scripts/install.mjs", "scripts/locate-addon.cjs"])
    assert.ok(pkg.files.includes(entry), entry);
  for (const file of pkg.files.filter((f: string) => f.startsWith("scripts/")))
    assert.ok(existsSync(join(repoRoot, file)), file);
  assert.ok(pkg.bin.spinn.startsWith("dist/src/") && pkg.exports["."].default.startsWith("./dist/src/"));
  assert.match(
    readFileSync(join(repoRoot, "LICENSE"), "utf8"),
    /MIT License\s+Copyright \(c\) 2026 the spinn-ts authors/,
  );
});

test("spinn-ts/data loads the data layer without the tensor engine (no libtorch, no BLAS threads set)", () => {
  assert.equal(pkg.exports["./data"].default, "./dist/src/data/index.js");
  const script = `
    import { readFileSync } from "node:fs";
    const data = await import(${JSON.stringify(join(repoRoot, "dist/src/data/index.js"))});
    const { lines } = data.generateListOps({ count: 3, seed: 1 });
    const maps = readFileSync("/proc/self/maps", "utf8");
    console.log(JSON.stringify({ lines: lines.length, tokens: data.tokenize("A dog runs."), torch: /libtorch|spinn_native/.test(maps) }));`;
  const r = node("--input-type=module", "-e", script);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { lines: 3, tokens: ["A", "dog", "runs", "."], torch: false });
  // The main entry point does load it: the check above can tell.
  const main = node(
    "--input-type=module",
    "-e",
    `
    import { readFileSync } from "node:fs";
    const lib = await import(${JSON.stringify(join(repoRoot, "dist/src/index.js"))});
    lib.zeros([1]);
    console.log(/spinn_native/.test(readFileSync("/proc/self/maps", "utf8")));`,
  );
  assert.equal(main.status, 0, main.stderr);
  assert.equal(main.stdout.trim(), "true");
});
