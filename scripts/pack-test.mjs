#!/usr/bin/env node
// The package as a user gets it: `npm pack` (the prepack step builds the TypeScript), then the
// tarball installed into fresh empty projects under a temporary directory, where `npx spinn
// --version`, a tiny `npx spinn demo` and a script that imports from "spinn-ts" (and a type check
// of such a script) must work. Three installs:
//   prebuilt  the tarball with prebuilds/<platform>-<arch>/ (this checkout's build/ addon, as a
//             release would ship it): the install step finds it loads and builds nothing
//   source    the tarball without prebuilds: the install step builds the addon from native/src
//             (about a minute on 2 idle cores)
//   skipped   the source tarball installed with --ignore-scripts (what npm does when install
//             scripts are denied): --version works, the engine's error says the one command to run;
//             and that command, run where no libtorch can be found (root and unshare needed),
//             fails with find-libtorch's message
// Run after `npm run build` (it needs build/spinn_native.node for the prebuilt tarball). Used by
// .ci/run after `npm test`. SPINN_PACK_TEST_QUICK=1 leaves out the source build.
// If npm cannot fetch the dependencies (no registry, not in the cache) it says so and exits 0.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PLACEHOLDER_DIR } from "./unused-libraries.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { version } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const quick = process.env.SPINN_PACK_TEST_QUICK === "1";
const work = mkdtempSync(path.join(tmpdir(), "spinn-pack-"));
const prebuildDir = path.join(root, "prebuilds", `${process.platform}-${process.arch}`);
const placeholders = path.join(root, "build", PLACEHOLDER_DIR);
const started = Date.now();
const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

class Skip extends Error {}

function run(cmd, args, cwd, { expectCode = 0, env, input } = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, ...env }, input });
  const shown = `${cmd} ${args.join(" ")}`;
  if (r.status !== expectCode) {
    const out = `${r.stdout}\n${r.stderr}`;
    if (cmd === "npm" && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|ENOTCACHED/.test(out))
      throw new Skip(`npm could not fetch the dependencies (${shown}):\n${out.slice(-1500)}`);
    throw new Error(
      `${shown} (in ${cwd}) exited with ${r.status}, expected ${expectCode}\n${out.slice(-4000)}`,
    );
  }
  console.log(`  ok  ${shown}  (${seconds(t0)})`);
  return r;
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

function pack(dest, ignoreScripts) {
  mkdirSync(dest, { recursive: true });
  const args = ["pack", "--json", "--pack-destination", dest, ...(ignoreScripts ? ["--ignore-scripts"] : [])];
  const [info] = JSON.parse(run("npm", args, root).stdout);
  const files = new Set(info.files.map((f) => f.path));
  for (const f of [
    "package.json",
    "README.md",
    "LICENSE",
    "dist/src/index.js",
    "dist/src/index.d.ts",
    "dist/src/cli/main.js",
    "native/src/core.cpp",
    "native/src/common.h",
    "native/src/ops_generated.cpp",
    "scripts/install.mjs",
    "scripts/locate-addon.cjs",
    "scripts/build-native.mjs",
    "scripts/find-libtorch.mjs",
    "pretrained/listops-rl/model.safetensors",
    "pretrained/listops-rl/card.json",
    "pretrained/listops-pi/model.safetensors",
    "pretrained/snli-spinn/model.safetensors",
  ])
    check(files.has(f), `the tarball holds ${f}`);
  for (const f of files)
    check(
      !/^(src|test|bench|examples|build|dist\/test|dist\/bench)\//.test(f) && !f.endsWith(".map"),
      `no ${f}`,
    );
  console.log(`  ${info.filename}: ${info.files.length} files, ${(info.size / 1024).toFixed(0)} KiB packed`);
  return { tarball: path.join(dest, info.filename), files };
}

const LIBRARY_SCRIPT = `// Uses spinn-ts as a dependency: ListOps data, one tiny epoch of SPINN-PI, predictions.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { defaultTrainOptions, generateListOps, loadModelDir, predict, readTaskData, train } from "spinn-ts";

const dir = path.resolve("library-run");
mkdirSync(dir, { recursive: true });
const { lines } = generateListOps({ count: 250, seed: 3, maxLength: 10 });
writeFileSync(path.join(dir, "train.tsv"), \`\${lines.slice(0, 200).join("\\n")}\\n\`);
writeFileSync(path.join(dir, "dev.tsv"), \`\${lines.slice(200).join("\\n")}\\n\`);
const options = defaultTrainOptions({
  task: "listops", model: "spinn-pi", out: path.join(dir, "run"),
  train: path.join(dir, "train.tsv"), dev: path.join(dir, "dev.tsv"),
  epochs: 1, dEmbed: 16, dHidden: 16, dMlp: 32, nMlp: 1, optimizer: "adam",
});
const result = await train(options);
const { model, vocab } = loadModelDir(result.out);
const dev = await readTaskData(path.join(dir, "dev.tsv"), "listops");
const { predicted } = predict(model, dev, vocab);
model.dispose();
console.log(JSON.stringify({ dev: dev.examples.length, predicted: predicted.length, accuracy: result.bestDevAccuracy }));
`;

const SHIPPED_SCRIPT = `// The shipped models on raw strings, from the installed package.
import { classify, loadModelDir, parse, pretrainedDir } from "spinn-ts";

const nli = loadModelDir(pretrainedDir("snli-spinn"));
const [pair] = classify(nli, [{ premise: "A man is playing a guitar.", hypothesis: "A person makes music." }]);
const listops = loadModelDir(pretrainedDir("listops-rl"));
const trees = parse(listops, ["[MAX 2 9 [MIN 4 7 ] 0 ]", "[SM 3 5 ]"]).map((p) => p.tree);
console.log(JSON.stringify({ label: pair.label, probabilities: pair.probabilities, trees }));
`;

const TYPED_SCRIPT = `import { type EncoderKind, generateListOps } from "spinn-ts";
const kind: EncoderKind = "spinn-pi";
const count: number = generateListOps({ count: 2, seed: 1 }).lines.length;
console.log(kind, count);
`;

function consumer(name, tarball, installArgs = []) {
  const dir = path.join(work, `app-${name}`);
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, "package.json"),
    `${JSON.stringify({ name: `consumer-${name}`, version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
  const install = run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--foreground-scripts",
      ...installArgs,
      tarball,
    ],
    dir,
  );
  return { dir, log: `${install.stdout}\n${install.stderr}`, pkg: path.join(dir, "node_modules/spinn-ts") };
}

function usePackage({ dir }) {
  const v = run("npx", ["--no-install", "spinn", "--version"], dir).stdout.trim();
  check(v === version, `spinn --version prints ${version} (got ${JSON.stringify(v)})`);
  const demo = run(
    "npx",
    ["--no-install", "spinn", "demo", "--train-size", "300", "--epochs", "1", "--json"],
    dir,
  );
  const summary = JSON.parse(demo.stdout.trim().split("\n").at(-1));
  console.log(`      demo: ${JSON.stringify(summary).slice(0, 200)}`);
  check(existsSync(path.join(dir, "runs/demo")), "the demo writes runs/demo in the project");
  writeFileSync(path.join(dir, "library.mjs"), LIBRARY_SCRIPT);
  const lib = JSON.parse(run("node", ["library.mjs"], dir).stdout.trim().split("\n").at(-1));
  check(
    lib.dev === 50 && lib.predicted === 50,
    `library script predicts 50 dev expressions (${JSON.stringify(lib)})`,
  );
  check(lib.accuracy >= 0 && lib.accuracy <= 1, "library script reports an accuracy");
  console.log(`      library: ${JSON.stringify(lib)}`);
  const parsed = run("npx", ["--no-install", "spinn", "parse", "--model", "listops-rl"], dir, {
    input: "[MAX 2 9 [MIN 4 7 ] 0 ]\n[SM 3 5 ]\n",
  })
    .stdout.trim()
    .split("\n");
  check(
    parsed.length === 2 && parsed.every((t) => t.startsWith("( ")),
    `spinn parse --model listops-rl (${parsed})`,
  );
  console.log(`      parse: ${parsed.join(" | ")}`);
  writeFileSync(path.join(dir, "shipped.mjs"), SHIPPED_SCRIPT);
  const shipped = JSON.parse(run("node", ["shipped.mjs"], dir).stdout.trim().split("\n").at(-1));
  check(
    ["entailment", "neutral", "contradiction"].includes(shipped.label),
    `classify gives a label (${JSON.stringify(shipped)})`,
  );
  check(shipped.trees.length === 2, "parse gives two trees");
  console.log(`      shipped models: ${JSON.stringify(shipped)}`);
}

function typeCheck({ dir }) {
  writeFileSync(path.join(dir, "typed.ts"), TYPED_SCRIPT);
  const tsconfig = {
    compilerOptions: {
      module: "NodeNext",
      moduleResolution: "NodeNext",
      target: "ES2022",
      strict: true,
      noEmit: true,
      types: ["node"],
      typeRoots: [path.join(root, "node_modules/@types")],
    },
    files: ["typed.ts"],
  };
  writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  run(path.join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], dir);
}

// The install step where no libtorch can be found: the system's and Python's torch hidden by
// empty bind mounts in a private mount namespace (needs root and unshare; left out otherwise).
function noLibtorch({ pkg }) {
  const torchDirs = ["python3", "/usr/bin/python3"]
    .map((py) =>
      spawnSync(py, ["-c", "import os, torch; print(os.path.dirname(torch.__file__))"], { encoding: "utf8" }),
    )
    .filter((r) => r.status === 0)
    .map((r) => r.stdout.trim());
  const hide = [...new Set(["/usr/include/torch", ...torchDirs])].filter((d) => existsSync(d));
  const empty = path.join(work, "empty");
  mkdirSync(empty, { recursive: true });
  const mounts = hide.map((d) => `mount --bind ${empty} ${d}`).join(" && ");
  const probe = spawnSync("unshare", ["-m", "bash", "-c", `${mounts || "true"}`], { encoding: "utf8" });
  if (probe.status !== 0) {
    console.log("  (no libtorch: left out, a private mount namespace is not available here)");
    return;
  }
  const env = { ...process.env };
  delete env.LIBTORCH;
  const r = spawnSync("unshare", ["-m", "bash", "-c", `${mounts} && node scripts/install.mjs`], {
    cwd: pkg,
    encoding: "utf8",
    env,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  check(r.status === 1, `without libtorch the install step fails (exit ${r.status})`);
  check(
    out.includes("libtorch not found") && out.includes("apt-get install -y libtorch-dev"),
    "it names what to install",
  );
  check(out.includes("scripts/install.mjs"), "it says what to run after fixing it");
  console.log("  ok  without libtorch the install step fails with find-libtorch's message");
}

function main() {
  console.log(`pack-test: spinn-ts ${version} in ${work}`);
  check(
    existsSync(path.join(root, "build/spinn_native.node")),
    "build/spinn_native.node exists (run `npm run build`)",
  );
  rmSync(path.join(root, "prebuilds"), { recursive: true, force: true });

  console.log("packing (prepack builds the TypeScript)");
  const source = pack(path.join(work, "pkg-source"), false);
  check(![...source.files].some((f) => f.startsWith("prebuilds/")), "the source tarball holds no prebuilds");
  console.log(`packing with ${path.relative(root, prebuildDir)}/ (as a release would)`);
  let prebuilt;
  try {
    mkdirSync(prebuildDir, { recursive: true });
    copyFileSync(path.join(root, "build/spinn_native.node"), path.join(prebuildDir, "spinn_native.node"));
    // The empty libraries the addon lists in place of those libtorch never uses (its RUNPATH
    // names $ORIGIN/unused-libs): they travel with it.
    if (existsSync(placeholders))
      cpSync(placeholders, path.join(prebuildDir, PLACEHOLDER_DIR), { recursive: true });
    prebuilt = pack(path.join(work, "pkg-prebuilt"), true);
  } finally {
    rmSync(path.join(root, "prebuilds"), { recursive: true, force: true });
  }

  console.log("install: prebuilt");
  let t0 = Date.now();
  const a = consumer("prebuilt", prebuilt.tarball);
  check(a.log.includes("using the native addon prebuilds/"), "the install step uses the prebuilt addon");
  check(!existsSync(path.join(a.pkg, "build")), "nothing was built");
  if (existsSync(placeholders))
    check(
      existsSync(path.join(a.pkg, "prebuilds", `${process.platform}-${process.arch}`, PLACEHOLDER_DIR)),
      "the prebuilt addon's placeholder libraries were installed with it",
    );
  usePackage(a);
  typeCheck(a);
  console.log(`  prebuilt: ${seconds(t0)}`);

  console.log("install: --ignore-scripts (install step skipped)");
  t0 = Date.now();
  const c = consumer("skipped", source.tarball, ["--ignore-scripts"]);
  const v = run("npx", ["--no-install", "spinn", "--version"], c.dir).stdout.trim();
  check(v === version, "spinn --version works without the addon");
  const failed = run(
    "npx",
    ["--no-install", "spinn", "demo", "--train-size", "300", "--epochs", "1"],
    c.dir,
    {
      expectCode: 2,
    },
  );
  const line = failed.stderr.trim();
  console.log(`      ${line}`);
  check(line.split("\n").length === 1, "one line on stderr");
  check(
    line.includes("native engine is not built") && line.includes("scripts/install.mjs"),
    "it says what to run",
  );
  noLibtorch(c);
  console.log(`  skipped: ${seconds(t0)}`);

  if (quick) console.log("install: source (left out: SPINN_PACK_TEST_QUICK=1)");
  else {
    console.log("install: source (the install step builds the addon)");
    t0 = Date.now();
    const b = consumer("source", source.tarball);
    check(b.log.includes("building the native addon"), "the install step builds the addon");
    check(
      existsSync(path.join(b.pkg, "build/spinn_native.node")),
      "build/spinn_native.node in the installed package",
    );
    check(!existsSync(path.join(b.pkg, "src")), "the build writes nothing under src/");
    usePackage(b);
    console.log(`  source: ${seconds(t0)}`);
  }
  rmSync(work, { recursive: true, force: true });
  console.log(`pack-test: passed (${seconds(started)})`);
}

try {
  main();
} catch (err) {
  rmSync(path.join(root, "prebuilds"), { recursive: true, force: true });
  if (err instanceof Skip) {
    console.log(`pack-test: SKIPPED: ${err.message}`);
  } else {
    console.error(`pack-test: FAILED: ${err.message}\n(left ${work} for inspection)`);
    process.exitCode = 1;
  }
}
