// File-system errors that name their file. Node's errors from open, mkdir or rename carry the
// path, but those from write, fsync and close (a full disk: ENOSPC) do not, and a temp file's
// path means nothing to the user: writers pass their errors through withPath so that the CLI can
// print `runs/x/metrics.jsonl: no space left on device (ENOSPC in write)` instead of a stack.
//
// For tests (a full disk cannot be made on demand, and root ignores permissions),
// SPINN_TEST_WRITE_FAULT=CODE:SUBSTRING makes every write to a file whose path contains
// SUBSTRING fail with that errno code, as the system call would (e.g. ENOSPC:model.safetensors).
import { appendFileSync } from "node:fs";
import os from "node:os";

type ErrnoError = NodeJS.ErrnoException & { dest?: string };

/** The error with `file` as its path, if it is an errno error (others are returned as they are). */
export function withPath(err: unknown, file: string): unknown {
  const e = err as ErrnoError;
  if (!(err instanceof Error) || typeof e.code !== "string" || typeof e.errno !== "number") return err;
  e.path = file;
  // A rename's destination is the file now named; the temp file it came from is an internal.
  delete e.dest;
  return e;
}

/** Throws the injected write fault for `file`, if SPINN_TEST_WRITE_FAULT names one for it. */
export function injectedWriteFault(file: string): void {
  const spec = process.env.SPINN_TEST_WRITE_FAULT;
  if (!spec) return;
  const colon = spec.indexOf(":");
  const code = spec.slice(0, colon);
  if (colon <= 0 || !file.includes(spec.slice(colon + 1))) return;
  const errno = (os.constants.errno as Record<string, number>)[code];
  if (errno === undefined) throw new Error(`SPINN_TEST_WRITE_FAULT: unknown errno code ${code}`);
  // Shaped like the error writeSync throws: code, errno, syscall, and no path.
  const err = new Error(`${code}: injected fault, write`) as ErrnoError;
  Object.assign(err, { code, errno: -errno, syscall: "write" });
  throw err;
}

/** appendFileSync whose errors name the file (and which honours the test fault). */
export function appendFileNamed(file: string, data: string): void {
  try {
    injectedWriteFault(file);
    appendFileSync(file, data);
  } catch (err) {
    throw withPath(err, file);
  }
}
