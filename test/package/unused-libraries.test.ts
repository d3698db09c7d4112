// The libraries libtorch lists but never uses, and the placeholders the native build links in
// their place (scripts/unused-libraries.mjs): the choice on made-up dependency graphs, and, on
// this machine's build, that the engine maps none of the libraries it replaced.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { repoRoot } from "../data/helpers.js";

interface Described {
  needed: string[];
  imports: { strong: Set<string>; weak: Set<string> };
  exports: Set<string>;
}
type Describe = (name: string) => Described | null;
interface UnusedLibrariesModule {
  unusedLibraries(root: string, describe: Describe, keep: (name: string) => boolean): string[];
  addonLoads(file: string): { ok: boolean; why?: string };
  PLACEHOLDER_DIR: string;
}

const scripts = (await import(
  pathToFileURL(join(repoRoot, "scripts/unused-libraries.mjs")).href
)) as UnusedLibrariesModule;

/** A dependency graph: name → [needed, imported symbols (strong), exported symbols, weak imports]. */
function graph(libs: Record<string, [string[], string[], string[], string[]?]>): Describe {
  return (name) => {
    const lib = libs[name];
    if (lib === undefined) return null;
    const [needed, strong, exported, weak = []] = lib;
    return { needed, imports: { strong: new Set(strong), weak: new Set(weak) }, exports: new Set(exported) };
  };
}

const keepTorch = (name: string) => name.startsWith("libtorch");

test("a library is replaced when no kept library imports anything it exports, with what only it brings", () => {
  const describe = graph({
    addon: [["libtorch_cpu.so", "libc.so.6"], ["at_add", "malloc"], []],
    "libtorch_cpu.so": [["libdnnl.so", "libopencv.so", "libc.so.6"], ["dnnl_run", "malloc"], ["at_add"]],
    "libdnnl.so": [["libOpenCL.so"], ["clRun"], ["dnnl_run"]],
    "libOpenCL.so": [[], [], ["clRun"]],
    "libopencv.so": [["libgdal.so"], ["gdal_open"], ["cv_imread"]],
    "libgdal.so": [[], [], ["gdal_open"]],
    "libc.so.6": [[], [], ["malloc"]],
  });
  // OpenCL stays although libtorch_cpu imports nothing from it: DNNL, which is kept, does.
  // GDAL is not listed at all: nothing kept lists it once OpenCV is a placeholder.
  assert.deepEqual(scripts.unusedLibraries("addon", describe, keepTorch), ["libopencv.so"]);
});

test("libtorch's own libraries stay even when nothing imports from them (static initialisers)", () => {
  const describe = graph({
    addon: [["libtorch_cuda.so", "libzmq.so"], [], []],
    "libtorch_cuda.so": [[], [], ["cuda_thing"]],
    "libzmq.so": [[], [], ["zmq_send"]],
  });
  assert.deepEqual(scripts.unusedLibraries("addon", describe, keepTorch), ["libzmq.so"]);
});

test("a weak import keeps its library; versions were stripped before, so a name is a name", () => {
  const describe = graph({
    addon: [["libfoo.so", "libbar.so"], [], [], ["foo_optional"]],
    "libfoo.so": [[], [], ["foo_optional"]],
    "libbar.so": [[], [], ["bar"]],
  });
  assert.deepEqual(scripts.unusedLibraries("addon", describe, keepTorch), ["libbar.so"]);
});

test("a library found only through one kept later is kept (the search runs to a fixed point)", () => {
  // libb is listed by the addon first and imported only by libc2, which is kept only because
  // the addon imports from it: the order of discovery must not matter.
  const describe = graph({
    addon: [["libb.so", "libc2.so"], ["c2"], []],
    "libb.so": [[], [], ["b"]],
    "libc2.so": [["libb.so"], ["b"], ["c2"]],
  });
  assert.deepEqual(scripts.unusedLibraries("addon", describe, keepTorch), []);
});

test("a listed library that cannot be found changes nothing (the addon would not load anyway)", () => {
  const describe = graph({
    addon: [["libmissing.so", "libunused.so"], [], []],
    "libunused.so": [[], [], ["x"]],
  });
  assert.deepEqual(scripts.unusedLibraries("addon", describe, keepTorch), []);
});

test("the load check reports why a file does not load", () => {
  const dir = mkdtempSync(join(tmpdir(), "spinn-unused-"));
  const bogus = join(dir, "bogus.node");
  writeFileSync(bogus, "not an ELF file");
  const probe = scripts.addonLoads(bogus);
  assert.equal(probe.ok, false);
  assert.match(probe.why ?? "", /invalid ELF header|too short/);
  assert.deepEqual(scripts.addonLoads(join(repoRoot, "build/spinn_native.node")), { ok: true });
});

test("an addon copied without its placeholders still loads (the real libraries, found as before)", (t) => {
  if (!existsSync(join(repoRoot, "build", scripts.PLACEHOLDER_DIR))) {
    t.skip("no placeholders in this build");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "spinn-alone-"));
  const copy = join(dir, "spinn_native.node");
  copyFileSync(join(repoRoot, "build/spinn_native.node"), copy);
  assert.deepEqual(scripts.addonLoads(copy), { ok: true });
});

test("the engine maps the placeholders, not the libraries they replace", (t) => {
  const dir = join(repoRoot, "build", scripts.PLACEHOLDER_DIR);
  if (!existsSync(dir)) {
    t.skip(`no ${dir}: this libtorch lists no library it does not use`);
    return;
  }
  const names = readdirSync(dir);
  assert.ok(names.length > 0);
  const script = `
    await import(${JSON.stringify(pathToFileURL(join(repoRoot, "dist/src/index.js")).href)});
    const { readFileSync } = await import("node:fs");
    const paths = readFileSync("/proc/self/maps", "utf8").split("\\n").map((l) => l.split(/\\s+/)[5]).filter(Boolean);
    console.log(JSON.stringify([...new Set(paths)]));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const mapped = JSON.parse(r.stdout) as string[];
  for (const name of names) {
    const from = mapped.filter((p) => p.endsWith(`/${name}`));
    assert.deepEqual(from, [join(dir, name)], `${name} is mapped from the placeholder only`);
  }
});
