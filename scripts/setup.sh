#!/usr/bin/env bash
# Quick start, step 1: installs everything the project needs, builds it, and runs the embedded
# default job (`spinn demo`). Safe to run again: each step skips what is already done.
#   SPINN_SKIP_DEMO=1   install and build only
set -euo pipefail
cd "$(dirname "$0")/.."

# libtorch (C++ headers + libraries) and the BLAS it runs on; Debian's PyTorch is the reference
# the benchmarks compare against (and an independent safetensors reader in the tests); chromium
# is the browser the web page's tests drive (through playwright-core).
# libgloo-dev: the gloo headers c10d's ProcessGroupGloo needs (data-parallel training, --nproc)
# libmimalloc2.0: the allocator of CPU tensors (native/src/cpu_allocator.cpp; optional at run time)
# wrk: the HTTP load generator of `npm run bench:serve` (bench/wrk-load.ts)
packages=(libtorch-dev libopenblas0-pthread python3-torch chromium libgloo-dev libmimalloc2.0 wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif [ -n "${LIBTORCH:-}" ]; then
    echo "==> LIBTORCH is set; not installing Debian packages"
  else
    echo "Missing Debian packages: ${missing[*]}"
    echo "Run as root:  apt-get update && apt-get install -y ${missing[*]}"
    echo "(or set LIBTORCH to an unpacked libtorch and re-run)"
    exit 1
  fi
fi

echo "==> installing npm dependencies"
npm ci --no-audit --no-fund --loglevel=error

echo "==> building the native engine and the TypeScript sources"
npm run --silent build

if [ "${SPINN_SKIP_DEMO:-0}" != "1" ]; then
  echo "==> running the demo (spinn demo)"
  node dist/src/cli/main.js demo
fi
