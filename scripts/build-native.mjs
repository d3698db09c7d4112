#!/usr/bin/env node
// Builds the libtorch shim (native/src/*.cpp) into build/spinn_native.node with g++ directly.
// Why not node-gyp: the same script must build on GPU machines that have Node and a CUDA
// PyTorch but no npm registry (../shared/GPU.md), and libtorch's flags come from one finder
// (scripts/find-libtorch.mjs) either way. Objects are rebuilt only when their source, a header
// or the flags changed; translation units compile in parallel.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findLibtorch } from "./find-libtorch.mjs";
import { addonLoads, findUnusedLibraries, PLACEHOLDER_DIR, writePlaceholders } from "./unused-libraries.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = path.join(root, "native/src");
const buildDir = path.join(root, "build");
const objDir = path.join(buildDir, "obj");
const output = path.join(buildDir, "spinn_native.node");

function nodeIncludeDir() {
  const candidates = [
    process.env.NODE_INCLUDE,
    path.resolve(path.dirname(process.execPath), "../include/node"),
    "/usr/include/node",
    "/usr/local/include/node",
  ].filter(Boolean);
  const found = candidates.find((d) => existsSync(path.join(d, "node_api.h")));
  if (!found)
    throw new Error(`Node-API headers (node_api.h) not found in: ${candidates.join(", ")}; set NODE_INCLUDE`);
  return found;
}

// Resolved the way Node resolves the package's own dependency: from this checkout's node_modules,
// or, when spinn-ts is installed into a project, wherever npm put node-addon-api (often hoisted
// next to spinn-ts).
function addonApiIncludeDir() {
  let dir;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve("node-addon-api/package.json"));
  } catch {
    throw new Error("node-addon-api is missing: run `npm ci` (or `npm install`) first");
  }
  if (!existsSync(path.join(dir, "napi.h"))) throw new Error(`node-addon-api at ${dir} has no napi.h`);
  return dir;
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

async function main() {
  // The op table writes native/src/ops_generated.cpp and the TypeScript typing under src/; an
  // installed package ships the generated C++ and no src/, so only a checkout regenerates.
  if (existsSync(path.join(root, "src/engine"))) {
    const { generateOps } = await import("./gen-ops.mjs");
    generateOps(root);
  }
  const torch = findLibtorch();
  const debug = process.env.SPINN_NATIVE_DEBUG === "1";
  const cxxflags = [
    "-std=c++17",
    debug ? "-O0" : "-O2",
    "-g0",
    "-fPIC",
    "-fvisibility=hidden",
    "-Wall",
    "-Wno-unused-parameter",
    "-Wno-unused-variable",
    `-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11abi}`,
    "-DNAPI_VERSION=8",
    "-DNAPI_CPP_EXCEPTIONS",
    "-DNODE_ADDON_API_DISABLE_DEPRECATED",
    ...(torch.cuda ? ["-DSPINN_WITH_CUDA=1"] : []),
    ...(torch.gloo.available ? ["-DUSE_C10D_GLOO"] : []),
    `-I${nodeIncludeDir()}`,
    `-I${addonApiIncludeDir()}`,
    ...torch.includeDirs.map((d) => `-isystem${d}`),
    // The compiler's own /usr/include must not become -isystem (it breaks #include_next).
    ...(torch.gloo.available && !["/usr/include", ...torch.includeDirs].includes(torch.gloo.includeDir)
      ? [`-isystem${torch.gloo.includeDir}`]
      : []),
  ];
  // `placeholders`: empty libraries listed before libtorch under the names of libraries it lists
  // but never uses (scripts/unused-libraries.mjs), found first through $ORIGIN/unused-libs.
  const ldflags = (placeholders) => [
    "-shared",
    `-L${torch.libDir}`,
    ...(placeholders.length > 0 ? [`-Wl,-rpath,$ORIGIN/${PLACEHOLDER_DIR}`] : []),
    `-Wl,-rpath,${torch.libDir}`,
    // torch_cuda registers the CUDA backend from static initialisers and is otherwise unreferenced.
    "-Wl,--no-as-needed",
    ...placeholders,
    ...torch.libs.map((l) => `-l${l}`),
    "-Wl,--as-needed",
  ];
  const cxx = process.env.CXX ?? "g++";
  mkdirSync(objDir, { recursive: true });

  const headers = readdirSync(srcDir).filter((f) => f.endsWith(".h"));
  const headerStamp = Math.max(0, ...headers.map((h) => statSync(path.join(srcDir, h)).mtimeMs));
  const flagHash = createHash("sha256")
    .update(JSON.stringify([cxx, cxxflags]))
    .digest("hex")
    .slice(0, 16);
  const sources = readdirSync(srcDir)
    .filter((f) => f.endsWith(".cpp"))
    .sort();
  const jobs = sources.map((file) => {
    const src = path.join(srcDir, file);
    const obj = path.join(objDir, `${file.replace(/\.cpp$/, "")}.${flagHash}.o`);
    const fresh = existsSync(obj) && statSync(obj).mtimeMs > Math.max(statSync(src).mtimeMs, headerStamp);
    return { src, obj, fresh };
  });
  const stale = jobs.filter((j) => !j.fresh);
  const parallel = Math.max(1, Math.min(availableParallelism(), stale.length));
  console.log(
    `libtorch ${torch.version} from ${torch.source}${torch.cuda ? " (CUDA)" : ""}` +
      `${torch.gloo.available ? ", with Gloo" : `, without Gloo (${torch.gloo.reason})`}; compiling ${stale.length}/${jobs.length} files`,
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < stale.length) {
        const job = stale[next++];
        const started = Date.now();
        await run(cxx, [...cxxflags, "-c", job.src, "-o", `${job.obj}.tmp`]);
        renameSync(`${job.obj}.tmp`, job.obj);
        console.log(`  ${path.basename(job.src)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
    }),
  );
  const linkInputs = jobs.map((j) => j.obj);
  const upToDate =
    stale.length === 0 &&
    existsSync(output) &&
    linkInputs.every((o) => statSync(o).mtimeMs <= statSync(output).mtimeMs);
  if (!upToDate) {
    const tmp = `${output}.tmp`;
    await link(cxx, linkInputs, tmp, ldflags);
    renameSync(tmp, output);
  }
  const { tried, ...info } = torch;
  writeFileSync(path.join(buildDir, "libtorch.json"), `${JSON.stringify(info, null, 2)}\n`);
  console.log(`built ${path.relative(root, output)}`);
}

/**
 * Links the addon into `out`: first as libtorch lists its libraries, then, when some of them are
 * never used (scripts/unused-libraries.mjs), again with empty placeholders in their place, kept
 * only if that addon loads. `ldflags(placeholders)` gives the link flags.
 */
async function link(cxx, inputs, out, ldflags) {
  await run(cxx, [...inputs, "-o", out, ...ldflags([])]);
  const placeholderDir = path.join(buildDir, PLACEHOLDER_DIR);
  const unused = findUnusedLibraries(out);
  if (unused.names.length === 0) {
    rmSync(placeholderDir, { recursive: true, force: true });
    console.log(`  loading every library libtorch lists (${unused.why})`);
    return;
  }
  await run(cxx, [...inputs, "-o", out, ...ldflags(writePlaceholders(placeholderDir, unused.names, cxx))]);
  const probe = addonLoads(out);
  if (probe.ok) {
    console.log(`  ${unused.names.length} libraries libtorch lists but never uses are not loaded`);
    return;
  }
  console.log(`  loading every library libtorch lists (with placeholders it failed: ${probe.why})`);
  rmSync(placeholderDir, { recursive: true, force: true });
  await run(cxx, [...inputs, "-o", out, ...ldflags([])]);
}

main().catch((err) => {
  console.error(`native build failed: ${err.message}`);
  process.exit(1);
});
