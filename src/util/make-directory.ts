// `mkdir -p` that always ends. Node's recursive mkdir (mkdirSync(dir, { recursive: true })) loops
// forever where mkdir answers ENOENT for a child of a directory that exists, as procfs does
// (`/proc/x`: Node 20 spins in mkdir and stat without returning); this creates the missing
// directories one at a time from the nearest one that exists, so such an answer is an error.
import { existsSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";

/**
 * Creates `dir` and any missing parents. Throws Node's own error (its code, syscall and path)
 * for the first directory it cannot create, or ENOTDIR's if a component is a file.
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  let at = path.resolve(dir);
  while (!existsSync(at)) {
    missing.push(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      // Made meanwhile by another process (two ranks of a data-parallel run): fine if a directory.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !statSync(d).isDirectory()) throw err;
    }
  }
  // `dir` existed already, or a component is a file: mkdir says which, as Node's recursive one does.
  if (missing.length === 0 && !statSync(at).isDirectory()) mkdirSync(at);
}
