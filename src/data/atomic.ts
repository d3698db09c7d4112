// Atomic file writes: write a temporary file in the same directory, flush it to disk, then rename
// it over the target. A crash or a full disk midway leaves the old file (or none), never a
// half-written one that a later load would trust (vocabularies, embedding caches, data sets).

import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Writes `data` (a string as UTF-8, bytes, or several byte arrays in order) to `path` atomically,
 * creating the parent directory if needed.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | readonly Uint8Array[],
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const handle = await open(tmp, "w");
    try {
      if (typeof data === "string" || data instanceof Uint8Array) {
        await handle.writeFile(data);
      } else {
        for (const part of data) {
          for (let offset = 0; offset < part.byteLength; ) {
            const { bytesWritten } = await handle.write(part, offset, part.byteLength - offset);
            offset += bytesWritten;
          }
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
