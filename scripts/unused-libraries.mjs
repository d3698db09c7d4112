// Libraries the addon's dependencies list but take nothing from, and the empty placeholders that
// keep the dynamic loader from loading them.
//
// Why: Debian's libtorch_cpu lists 22 libraries it takes no symbol from (OpenCV, FFmpeg, LMDB,
// LevelDB, ZeroMQ, zstd, snappy: Caffe2 parts linked without --as-needed), and those bring ~230
// more (GDAL, Qt, poppler, ...). Loading them cost every process that loads the engine ~67 MiB of
// RSS (their relocated data and their static initialisers' heap) and 0.1-0.2 s. The addon now lists,
// before libtorch, an empty library under each such name (same SONAME, no code, no symbols), kept
// in build/unused-libs/ and found through the addon's RUNPATH ($ORIGIN/unused-libs). When
// libtorch_cpu then asks for one of those names, the loader finds a library of that name already
// loaded and opens none of the real ones. Nothing changes where the folder is missing: the
// RUNPATH's next entries and the system find the real libraries.
//
// Which libraries: starting from the addon, a library listed (DT_NEEDED) by a library kept is kept
// when it exports a symbol that any kept library imports (by name, versions ignored: the
// conservative side), or when it is libtorch's own (its static initialisers register backends that
// nothing references) or the C/C++ runtime. The rest of the listed ones get placeholders. A kept
// library could still take a symbol from a library that only a dropped one brought in (through the
// global scope, without listing it): the build then loads the relinked addon once with every
// symbol of every library bound at once (LD_BIND_NOW=1), and links it without placeholders if
// that fails.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";

/** The folder next to the addon that holds the placeholders (the addon's RUNPATH names it). */
export const PLACEHOLDER_DIR = "unused-libs";

/** Always kept: the C/C++ runtime, and libtorch's own libraries (torch, torch_cpu, torch_cuda, c10, ...). */
const ALWAYS_KEPT = /^(ld-linux|libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|libtorch|libc10)[._-]/;

/**
 * The libraries to replace by placeholders: pure, over what `describe(name)` says of each library
 * ({needed, imports: {strong, weak}, exports}, or null when it was not found). `keep(name)`: always
 * keep (libtorch's own, the runtime).
 */
export function unusedLibraries(root, describe, keep) {
  const info = new Map();
  const about = (name) => {
    if (!info.has(name)) info.set(name, describe(name));
    return info.get(name);
  };
  const used = new Set([root]);
  const imported = new Set();
  const addImports = (name) => {
    const i = about(name);
    if (i === null) return;
    for (const s of [...i.imports.strong, ...i.imports.weak]) imported.add(s);
  };
  addImports(root);
  for (let changed = true; changed; ) {
    changed = false;
    for (const user of [...used]) {
      for (const name of about(user)?.needed ?? []) {
        if (used.has(name)) continue;
        if (!keep(name)) {
          const lib = about(name);
          if (lib === null) return []; // not found: the addon would not load anyway; change nothing
          if (![...lib.exports].some((s) => imported.has(s))) continue;
        }
        used.add(name);
        addImports(name);
        changed = true;
      }
    }
  }
  const dropped = new Set();
  for (const user of used)
    for (const name of about(user)?.needed ?? []) if (!used.has(name)) dropped.add(name);
  return [...dropped].sort();
}

function symbols(file, flag) {
  const out = execFileSync("nm", ["-D", flag, file], { encoding: "utf8", maxBuffer: 1 << 28 });
  const byType = { strong: new Set(), weak: new Set() };
  for (const line of out.split("\n")) {
    const m = line.match(/^\s*(?:[0-9a-f]+\s+)?([A-Za-z])\s+(\S+)$/);
    if (!m) continue;
    const name = m[2].replace(/@.*/, "");
    (m[1] === "w" || m[1] === "v" ? byType.weak : byType.strong).add(name);
  }
  return byType;
}

function describeFile(file) {
  const dynamic = execFileSync("readelf", ["-d", "-W", file], { encoding: "utf8" });
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]);
  const exported = symbols(file, "--defined-only");
  return {
    needed,
    imports: symbols(file, "--undefined-only"),
    exports: new Set([...exported.strong, ...exported.weak]),
  };
}

/**
 * The SONAMEs to replace for the linked addon at `addon`, with why none when there are none to
 * replace (tools missing, a dependency not found).
 */
export function findUnusedLibraries(addon) {
  let ldd;
  try {
    ldd = execFileSync("ldd", [addon], { encoding: "utf8" });
    execFileSync("nm", ["--version"], { stdio: "ignore" });
    execFileSync("readelf", ["--version"], { stdio: "ignore" });
  } catch (err) {
    return { names: [], why: `ldd, nm or readelf unavailable (${err.message.split("\n")[0]})` };
  }
  const paths = new Map();
  for (const line of ldd.split("\n")) {
    const m = line.match(/^\s*(\S+) => (\S+) \(/);
    if (m) paths.set(m[1], m[2]);
  }
  const describe = (name) => {
    if (name === addon) return describeFile(addon);
    const file = paths.get(name);
    return file === undefined ? null : describeFile(file);
  };
  const names = unusedLibraries(addon, describe, (name) => ALWAYS_KEPT.test(name));
  return { names, why: names.length === 0 ? "every listed library is used" : null };
}

/** Writes an empty shared library per name into `dir` (emptied first); their paths, to link. */
export function writePlaceholders(dir, names, cxx) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return names.map((name) => {
    const file = path.join(dir, name);
    execFileSync(cxx, ["-shared", "-nostdlib", "-o", file, `-Wl,-soname,${name}`, "-x", "c++", "/dev/null"]);
    return file;
  });
}

/**
 * Whether the addon loads in a fresh Node process with every symbol of every library it brings
 * bound at load time, and the first line of the error if not.
 */
export function addonLoads(addon) {
  const probe = spawnSync(
    process.execPath,
    ["-e", `process.dlopen({ exports: {} }, ${JSON.stringify(addon)})`],
    {
      encoding: "utf8",
      env: { ...process.env, LD_BIND_NOW: "1" },
    },
  );
  if (probe.status === 0) return { ok: true };
  return { ok: false, why: (probe.stderr.split("\n").find((l) => /rror/.test(l)) ?? "").trim() };
}
