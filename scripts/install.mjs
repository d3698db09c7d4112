#!/usr/bin/env node
// npm's install step for the published package: use a prebuilt addon when one matches this
// machine (it exists for this platform-arch and loads, i.e. the libtorch it was linked against is
// here), else build the addon from native/src with scripts/build-native.mjs. In a development
// checkout (src/ present) it does nothing: `npm run build` builds the addon there, after `npm ci`.
//   SPINN_BUILD_FROM_SOURCE=1   build even when a prebuilt addon loads
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { existingAddons, packageRoot } = require("./locate-addon.cjs");
const here = path.dirname(fileURLToPath(import.meta.url));
const rel = (file) => path.relative(packageRoot, file);

function loads(file) {
  const probe = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(file)})`], { encoding: "utf8" });
  if (probe.status === 0) return { ok: true };
  const why = (probe.stderr ?? "").split("\n").find((l) => /Error/.test(l)) ?? `exit ${probe.status}`;
  return { ok: false, why: why.trim() };
}

function main() {
  if (existsSync(path.join(packageRoot, "src/index.ts")) && process.env.SPINN_BUILD_FROM_SOURCE !== "1") {
    console.log("spinn-ts: development checkout, not building on install (`npm run build` builds the addon)");
    return 0;
  }
  if (process.env.SPINN_BUILD_FROM_SOURCE !== "1") {
    for (const file of existingAddons()) {
      const probe = loads(file);
      if (probe.ok) {
        console.log(`spinn-ts: using the native addon ${rel(file)}`);
        return 0;
      }
      console.log(`spinn-ts: ${rel(file)} does not load here (${probe.why})`);
    }
  }
  console.log("spinn-ts: building the native addon from native/src (a few minutes)");
  const build = spawnSync(process.execPath, [path.join(here, "build-native.mjs")], { stdio: "inherit" });
  if (build.status === 0) return 0;
  console.error(
    "spinn-ts: the native addon was not built (see the message above). After fixing it, run:\n" +
      `  node ${path.join(here, "install.mjs")}`,
  );
  return 1;
}

process.exitCode = main();
