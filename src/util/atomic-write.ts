// Writes that never leave a half-written file: data goes to a temporary file in the same
// directory, is flushed to disk, and is renamed over the target (rename is atomic on POSIX).
// A crash at any point leaves either the old file or the new one, never a mix.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { injectedWriteFault, withPath } from "./fs-errors.js";
import { makeDirectory } from "./make-directory.js";
import { crashPoint } from "./test-hooks.js";

/**
 * Writes `chunks` (strings as UTF-8, or bytes) to `file` atomically, creating its directory.
 * An error (a full disk, a read-only file system) names `file`, never the temp file, and leaves
 * the previous `file` as it was.
 */
export function writeFileAtomic(
  file: string,
  chunks: Uint8Array | string | readonly (Uint8Array | string)[],
): void {
  makeDirectory(path.dirname(file)); // its errors name the directory
  const parts = Array.isArray(chunks) ? chunks : [chunks as Uint8Array | string];
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  let fd = -1;
  try {
    fd = openSync(tmp, "w");
    injectedWriteFault(file);
    for (const part of parts) {
      const bytes = typeof part === "string" ? Buffer.from(part, "utf8") : part;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    crashPoint(`before-rename:${path.basename(file)}`);
    renameSync(tmp, file);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw withPath(err, file);
  }
  // Make the rename itself durable.
  try {
    const dirFd = openSync(path.dirname(file), "r");
    fsyncSync(dirFd);
    closeSync(dirFd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}
