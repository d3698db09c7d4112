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
  "DivergenceError",
  "DistributedError",
]);

/** Exit codes besides 0 and 2 (a user error); the README's command notes list them. */
export const EXIT_CODES = {
  /** Training diverged (non-finite loss, gradient norm or parameters). */
  diverged: 3,
  /** The operating system refused a read or write (disk full, read-only, permissions). */
  system: 4,
  /** Data-parallel training lost a worker, or its rendezvous or a collective failed. */
  distributed: 5,
  /** Training interrupted by Ctrl-C or SIGTERM (checkpointed; --resume continues). */
  interrupted: 130,
} as const;

/** errno codes of a full, failing or read-only system rather than a mistyped path: exit 4. */
const SYSTEM_ERRNO = new Set(["ENOSPC", "EDQUOT", "EROFS", "EIO", "EFBIG", "EMFILE", "ENFILE"]);

/** errno codes a user can meet and fix, as people say them (Node's messages start with the code). */
const ERRNO_PHRASES: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ENOTDIR: "a component of the path is not a directory",
  ENOENT: "no such file or directory",
  EEXIST: "already exists",
  ENOTEMPTY: "directory not empty",
  EMFILE: "too many open files",
  ENAMETOOLONG: "file name too long",
  EIO: "input/output error",
  EFBIG: "file too large",
  EBUSY: "resource busy",
  EXDEV: "cannot rename across file systems",
};

/** An operating-system error from fs (it carries an errno code). */
type SystemError = NodeJS.ErrnoException & { code: string; dest?: string };

function errnoOf(err: Error): SystemError | null {
  const e = err as NodeJS.ErrnoException;
  return typeof e.code === "string" && /^E[A-Z0-9]+$/.test(e.code) && typeof e.errno === "number"
    ? (e as SystemError)
    : null;
}

/**
 * The one line to show for an error the user can fix (bad flag or data, a file system error
 * naming its path, a libtorch error such as a missing CUDA device), or null for a bug, which
 * is rethrown with its stack.
 */
export function userMessage(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  if (USER_FACING.has(err.name)) return err.message;
  const e = errnoOf(err);
  if (!e || e.path === undefined) return null;
  const problem = ERRNO_PHRASES[e.code] ?? e.message.replace(/, \w+ '.*'$/, "");
  const target = e.dest !== undefined ? ` -> ${e.dest}` : "";
  return `${e.path}${target}: ${problem} (${e.code}${e.syscall ? ` in ${e.syscall}` : ""})`;
}

/** The exit code for an error userMessage printed. */
export function exitCodeOf(err: unknown): number {
  if (!(err instanceof Error)) return 2;
  if (err.name === "DivergenceError") return EXIT_CODES.diverged;
  if (err.name === "DistributedError") return EXIT_CODES.distributed;
  const e = errnoOf(err);
  // A wrong path (missing, not a directory, no permission) is the user's to fix like a bad flag.
  return e && SYSTEM_ERRNO.has(e.code) ? EXIT_CODES.system : 2;
}
