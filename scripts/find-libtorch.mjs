#!/usr/bin/env node
// Finds the libtorch to build and run against. One place, shared by the native build and the
// tests, so both always agree. Order (DESIGN.md): an explicit LIBTORCH directory, a Python
// `torch` installation that ships its headers and libraries, then the system (Debian) location.
// Prints JSON when run directly; exits 1 with the list of what was tried when nothing fits.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const DEBIAN_HINT =
  "apt-get install -y libtorch-dev libopenblas0-pthread   (as root; on Debian 12 this gives libtorch 1.13 for CPU)";

function describeRoot(source, includeRoot, libDir, abiHint) {
  const includeDirs = [includeRoot, path.join(includeRoot, "torch/csrc/api/include")];
  const cuda = existsSync(path.join(libDir, "libtorch_cuda.so"));
  return {
    source,
    includeDirs,
    libDir,
    libs: cuda ? ["torch", "torch_cpu", "c10", "torch_cuda", "c10_cuda"] : ["torch", "torch_cpu", "c10"],
    cuda,
    cxx11abi: abiHint ?? 1,
    version: readVersion(includeDirs[1]),
    gloo: findGloo(includeRoot),
  };
}

// c10d's ProcessGroupGloo (data-parallel training) compiles only with gloo's headers, which
// Debian ships apart from libtorch (libgloo-dev). Null, with the reason, when either is missing:
// the addon then builds without distributed training and says why when it is asked for.
function findGloo(includeRoot) {
  if (process.env.SPINN_WITHOUT_GLOO === "1") return { available: false, reason: "SPINN_WITHOUT_GLOO=1" };
  const header = path.join(includeRoot, "torch/csrc/distributed/c10d/ProcessGroupGloo.hpp");
  if (!existsSync(header)) return { available: false, reason: `no ${header}` };
  const dirs = [includeRoot, "/usr/include", "/usr/local/include"];
  const dir = dirs.find((d) => existsSync(path.join(d, "gloo/config.h")));
  if (!dir)
    return {
      available: false,
      reason: `no gloo/config.h in ${dirs.join(", ")} (apt-get install -y libgloo-dev)`,
    };
  return { available: true, includeDir: dir };
}

function readVersion(apiInclude) {
  const file = path.join(apiInclude, "torch/version.h");
  if (!existsSync(file)) return "unknown";
  const text = readFileSync(file, "utf8");
  const part = (name) => text.match(new RegExp(`#define TORCH_VERSION_${name} (\\d+)`))?.[1] ?? "?";
  return `${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}`;
}

function hasLibtorch(includeRoot, libDir) {
  return (
    existsSync(path.join(includeRoot, "torch/csrc/api/include/torch/torch.h")) &&
    (existsSync(path.join(libDir, "libtorch.so")) || existsSync(path.join(libDir, "libtorch_cpu.so")))
  );
}

function fromEnv(tried) {
  const root = process.env.LIBTORCH;
  if (!root) {
    tried.push("LIBTORCH: not set");
    return null;
  }
  const inc = process.env.LIBTORCH_INCLUDE ?? path.join(root, "include");
  const lib = process.env.LIBTORCH_LIB ?? path.join(root, "lib");
  if (!hasLibtorch(inc, lib)) {
    tried.push(`LIBTORCH=${root}: no torch/torch.h under ${inc} or no libtorch.so in ${lib}`);
    return null;
  }
  const abi = process.env.LIBTORCH_CXX11_ABI;
  return describeRoot(`LIBTORCH=${root}`, inc, lib, abi === undefined ? 1 : Number(abi));
}

function fromPython(tried) {
  const pythons = [process.env.PYTHON, "python3", "/usr/bin/python3"].filter(Boolean);
  const script =
    "import json, os, torch; d = os.path.dirname(torch.__file__); " +
    "print(json.dumps({'dir': d, 'version': torch.__version__, 'abi': int(torch._C._GLIBCXX_USE_CXX11_ABI)}))";
  for (const py of [...new Set(pythons)]) {
    let info;
    try {
      info = JSON.parse(
        execFileSync(py, ["-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
      );
    } catch {
      tried.push(`${py}: no importable torch`);
      continue;
    }
    const inc = path.join(info.dir, "include");
    const lib = path.join(info.dir, "lib");
    if (!hasLibtorch(inc, lib)) {
      tried.push(`${py}: torch ${info.version} at ${info.dir} ships no C++ headers/libraries`);
      continue;
    }
    return describeRoot(`python torch ${info.version} (${py})`, inc, lib, info.abi);
  }
  return null;
}

function fromSystem(tried) {
  let multiarch = "x86_64-linux-gnu";
  try {
    multiarch = execFileSync("gcc", ["-print-multiarch"], { encoding: "utf8" }).trim() || multiarch;
  } catch {}
  for (const lib of [`/usr/lib/${multiarch}`, "/usr/lib", "/usr/local/lib"]) {
    for (const inc of ["/usr/include", "/usr/local/include"]) {
      if (hasLibtorch(inc, lib)) return describeRoot(`system (${lib})`, inc, lib, 1);
    }
  }
  tried.push(
    `system: no torch/csrc/api/include/torch/torch.h in /usr/include with libtorch.so in /usr/lib/${multiarch}`,
  );
  return null;
}

export function findLibtorch() {
  const tried = [];
  const found = fromEnv(tried) ?? fromPython(tried) ?? fromSystem(tried);
  if (found) return { ...found, tried };
  const err = new Error(
    `libtorch not found. Tried, in order:\n  - ${tried.join("\n  - ")}\n` +
      `Fix: ${DEBIAN_HINT}\n  or set LIBTORCH to an unpacked libtorch (with include/ and lib/),\n` +
      "  or install a Python torch wheel that ships include/ and lib/ (pip install torch).",
  );
  err.tried = tried;
  throw err;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  try {
    console.log(JSON.stringify(findLibtorch(), null, 2));
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
