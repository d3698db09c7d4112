// Directories written whole or not at all, and read back only when whole. A checkpoint is several
// files, so it is filled in a temporary sibling `<target>.tmp-PID`, sealed with a manifest
// (every file's size and sha256, written last: its presence is what makes the directory whole),
// and swapped into place by renames that never delete the previous whole copy before the new
// one is in place. At any instant of a save, or of a recovery after a crash, at least one whole
// copy exists among `<target>`, `<target>.old` and `<target>.tmp-PID`; readers take the newest
// whole one. The manifest's checksums also catch files corrupted later (garbled weights).
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic-write.js";
import { CheckpointError, Fields, readJsonFile } from "../util/checked-json.js";
import { makeDirectory } from "../util/make-directory.js";
import { pidAlive } from "../util/pid.js";
import { crashPoint } from "../util/test-hooks.js";

export const MANIFEST_FILE = "manifest.json";
/** Files that mark a directory written before manifests existed: such a one counts as whole. */
const LEGACY_MARKERS = ["config.json", "trainer.json"];

interface FileEntry {
  bytes: number;
  sha256: string;
}

interface Manifest {
  /** When the directory was sealed (ms since the epoch): newer whole copies win. */
  written: number;
  files: Map<string, FileEntry>;
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** Seals `dir`: lists every file in it with its size and sha256, in a manifest written last. */
function writeManifest(dir: string): void {
  const files: Record<string, FileEntry> = {};
  for (const name of readdirSync(dir).sort()) {
    // Dot files are writeFileAtomic's temporaries, never part of the checkpoint.
    if (name.startsWith(".") || name === MANIFEST_FILE || !statSync(path.join(dir, name)).isFile()) continue;
    const bytes = readFileSync(path.join(dir, name));
    files[name] = { bytes: bytes.length, sha256: sha256(bytes) };
  }
  const manifest = { format: "spinn-manifest", version: 1, written: Date.now(), files };
  writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** The manifest of `dir`, null when it has none (a directory from before manifests). */
function readManifest(dir: string): Manifest | null {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return null;
  const f = new Fields(readJsonFile(file), file);
  f.literal("format", "spinn-manifest");
  f.literal("version", 1);
  const written = f.number("written");
  const listed = f.nested("files");
  const files = new Map<string, FileEntry>();
  for (const name of Object.keys(listed.object)) {
    const e = listed.nested(name);
    files.set(name, { bytes: e.int("bytes"), sha256: e.string("sha256") });
  }
  return { written, files };
}

/**
 * When `dir` was sealed, if it is whole (a manifest whose files are all there with their sizes;
 * or, for a directory from before manifests unless `sealed` is required, a marker file); null if not.
 */
function wholeSince(dir: string, sealed: boolean): number | null {
  let manifest: Manifest | null;
  try {
    manifest = readManifest(dir);
  } catch {
    return null;
  }
  if (!manifest) return !sealed && LEGACY_MARKERS.some((m) => existsSync(path.join(dir, m))) ? 0 : null;
  for (const [name, e] of manifest.files) {
    const file = path.join(dir, name);
    if (!existsSync(file) || statSync(file).size !== e.bytes) return null;
  }
  return manifest.written;
}

interface Candidate {
  dir: string;
  /** Breaks ties between copies sealed in the same millisecond: a temp copy is the newest. */
  rank: number;
  /** When it was sealed; null when it is not whole. */
  written: number | null;
}

/**
 * Every copy of `target` on disk: itself, `.old`, and the temp copies of processes that are no
 * longer alive (a live one may still be writing its copy). `own`: this process's temp copy
 * counts too (recovery, before this process writes any).
 */
function candidates(target: string, own: boolean): Candidate[] {
  const found: Candidate[] = [];
  if (existsSync(target)) found.push({ dir: target, rank: 1, written: wholeSince(target, false) });
  const old = `${target}.old`;
  if (existsSync(old)) found.push({ dir: old, rank: 0, written: wholeSince(old, false) });
  const parent = path.dirname(target);
  const prefix = `${path.basename(target)}.tmp-`;
  const names = existsSync(parent) ? readdirSync(parent) : [];
  for (const name of names) {
    const pid = Number(name.slice(prefix.length));
    if (!name.startsWith(prefix) || !Number.isInteger(pid)) continue;
    if (pid === process.pid ? !own : pidAlive(pid)) continue;
    const dir = path.join(parent, name);
    found.push({ dir, rank: 2, written: wholeSince(dir, true) });
  }
  return found;
}

function newestWhole(found: Candidate[]): Candidate | null {
  const whole = found.filter((c) => c.written !== null);
  whole.sort((a, b) => b.written! - a.written! || b.rank - a.rank);
  return whole[0] ?? null;
}

/**
 * The directory to read for `target`: the newest whole copy (itself, `.old` after a swap was
 * interrupted, or a dead process's sealed temp copy). A sealed `target` that is no longer whole
 * is still returned when nothing else is, so that reading it names the damage.
 */
export function resolveCheckpointDir(target: string): string | null {
  const best = newestWhole(candidates(target, false));
  if (best) return best.dir;
  return existsSync(path.join(target, MANIFEST_FILE)) ? target : null;
}

/**
 * Puts the newest whole copy of `target` in place and removes the others (unfinished temp
 * copies of killed processes, a superseded `.old`). Only for the process that holds the run's
 * lock. Crash-safe at every step: the copy kept is never removed. Says what it did, if anything.
 */
export function recoverCheckpointDir(target: string): string | null {
  const found = candidates(target, true);
  const best = newestWhole(found);
  const removed: string[] = [];
  for (const c of found) {
    if (c === best || c.dir === target) continue;
    rmSync(c.dir, { recursive: true, force: true });
    removed.push(path.basename(c.dir));
    crashPoint(`${path.basename(target)}-recover-removed`);
  }
  let moved = "";
  if (best && best.dir !== target) {
    rmSync(target, { recursive: true, force: true });
    crashPoint(`${path.basename(target)}-recover-before-rename`);
    renameSync(best.dir, target);
    fsyncDir(path.dirname(target));
    moved = `recovered ${path.basename(target)} from ${path.basename(best.dir)}`;
  }
  const said = [moved, ...removed.map((r) => `removed ${r}`)].filter(Boolean);
  return said.length ? `${path.dirname(target)}: ${said.join("; ")}` : null;
}

/**
 * Replaces directory `target` with one filled by `fill`, atomically: fill writes into
 * `<target>.tmp-PID`, which is sealed with a manifest and renamed into place. The previous copy
 * is moved to `<target>.old` first and deleted only once the new one is in place.
 */
export function writeDirAtomic(target: string, fill: (dir: string) => void): void {
  const tmp = `${target}.tmp-${process.pid}`;
  const old = `${target}.old`;
  // Test hooks' names: "last-sealed", "best-before-rename"...
  const name = path.basename(target);
  rmSync(tmp, { recursive: true, force: true });
  makeDirectory(tmp);
  try {
    fill(tmp);
    crashPoint(`${name}-filled`);
    writeManifest(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  crashPoint(`${name}-sealed`);
  if (existsSync(target)) {
    // A broken target is dropped, keeping a whole `.old`; a whole target becomes the new `.old`.
    if (existsSync(old) && wholeSince(target, false) === null) rmSync(target, { recursive: true });
    else {
      rmSync(old, { recursive: true, force: true });
      renameSync(target, old);
    }
  }
  crashPoint(`${name}-before-rename`);
  renameSync(tmp, target);
  fsyncDir(path.dirname(target));
  crashPoint(`${name}-renamed`);
  rmSync(old, { recursive: true, force: true });
}

/** Makes renames in `dir` durable (some filesystems refuse fsync on directories: then skipped). */
function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    fsyncSync(fd);
    closeSync(fd);
  } catch {
    // The renames are still atomic.
  }
}

/**
 * The bytes of file `name` in checkpoint directory `dir`, checked against the directory's
 * manifest (size and sha256) when it has one: corruption is a CheckpointError naming the file.
 */
export function readVerified(dir: string, name: string): Buffer {
  const file = path.join(dir, name);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CheckpointError(`${file}: cannot read (${e.code ?? e.message})`);
  }
  const manifest = readManifest(dir);
  if (!manifest) return bytes;
  const entry = manifest.files.get(name);
  if (!entry) throw new CheckpointError(`${file}: not listed in ${path.join(dir, MANIFEST_FILE)}`);
  if (bytes.length !== entry.bytes || sha256(bytes) !== entry.sha256) {
    throw new CheckpointError(
      `${file}: corrupted (${bytes.length} bytes whose sha256 differs from ${MANIFEST_FILE}'s record of the ${entry.bytes} written)`,
    );
  }
  return bytes;
}
