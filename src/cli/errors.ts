/** An error the user caused (bad flag, missing file, bad data): printed as one line, exit code 2. */
export class UserError extends Error {
  override name = "UserError";
}

/** Error classes whose message already says what and where (file:line, file name, op). */
const USER_FACING = new Set([
  "UserError",
  "DataError",
  "FormatError",
  "SafetensorsError",
  "TorchError",
  "CheckpointError",
  "ResumeError",
  "RunLockError",
  "DeviceError",
  "ParseError",
  "PretrainedError",
]);

/**
 * The one line to show for an error the user can fix (bad flag or data, a file system error
 * naming its path, a libtorch error such as a missing CUDA device), or null for a bug, which
 * is rethrown with its stack.
 */
export function userMessage(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  if (USER_FACING.has(err.name)) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === "string" && e.path !== undefined) return `${e.path}: ${e.message}`;
  return null;
}
