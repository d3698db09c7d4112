// Where the native addon may be, in the order it is tried (the node-gyp-build convention): a
// prebuilt binary for this platform and architecture shipped in the package, then the one built
// here by scripts/build-native.mjs. One lookup, used at run time by src/engine/native.ts and at
// install time by scripts/install.mjs (to decide whether to build). CommonJS so that both the
// compiled TypeScript (through createRequire) and the ES module scripts can load it
// synchronously.
const { existsSync } = require("node:fs");
const path = require("node:path");

const ADDON_FILE = "spinn_native.node";

/** The package root: the folder above scripts/. */
const packageRoot = path.resolve(__dirname, "..");

/** Every place the addon may be, in order, whether or not it exists. */
function addonCandidates(root = packageRoot) {
  return [
    path.join(root, "prebuilds", `${process.platform}-${process.arch}`, ADDON_FILE),
    path.join(root, "build", ADDON_FILE),
  ];
}

/** The candidates that exist, in order. */
function existingAddons(root = packageRoot) {
  return addonCandidates(root).filter((file) => existsSync(file));
}

module.exports = { ADDON_FILE, packageRoot, addonCandidates, existingAddons };
