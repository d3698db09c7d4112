// One training process per run directory: a lock file `<out>/lock` holding the owner's PID. It is
// created exclusively (the content is written to a private temp file first and hard-linked into
// place, which fails with EEXIST like O_EXCL, so no reader ever sees a lock file without its PID).
// A lock whose process is gone (kill -9, power cut) is taken over, saying so. The lock is
// released when the run ends, fails or is interrupted, and on process exit.
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { pidAlive } from "../util/pid.js";

export const LOCK_FILE = "lock";

/** Another live process trains in the run directory (printed as one line). */
export class RunLockError extends Error {
  override name = "RunLockError";
}

/** Lock files this process holds (a second train() into the same directory here is refused too). */
const held = new Set<string>();

/** The PID recorded in a lock file, or null when it is gone or unreadable. */
function holderOf(file: string): number | null {
  try {
    const pid = (JSON.parse(readFileSync(file, "utf8")) as { pid?: unknown }).pid;
    return typeof pid === "number" ? pid : null;
  } catch {
    return null;
  }
}

/** Whether the recorded holder still runs (our own PID counts only if this process holds it). */
function holderAlive(file: string, pid: number | null): boolean {
  if (pid === null) return false;
  return pid === process.pid ? held.has(file) : pidAlive(pid);
}

function lockedError(out: string, pid: number | null): RunLockError {
  return new RunLockError(
    `${out}: another training process (PID ${pid}) is using this run directory; ` +
      `wait for it to finish or stop it (lock file ${path.join(out, LOCK_FILE)})`,
  );
}

/** Refuses at once when a live process holds the lock of `out` (a check, takes nothing). */
export function checkUnlocked(out: string): void {
  const file = path.join(out, LOCK_FILE);
  const pid = holderOf(file);
  if (holderAlive(file, pid)) throw lockedError(out, pid);
}

export class RunLock {
  private readonly onExit = () => this.release();

  private constructor(readonly file: string) {
    held.add(file);
    process.on("exit", this.onExit);
  }

  /** Takes the lock of existing directory `out`, taking over a dead process's lock. */
  static acquire(out: string, log: (message: string) => void): RunLock {
    const file = path.join(out, LOCK_FILE);
    for (let attempt = 0; attempt < 5; attempt++) {
      if (tryCreate(file)) return new RunLock(file);
      const pid = holderOf(file);
      if (holderAlive(file, pid)) throw lockedError(out, pid);
      // Move the stale lock aside before deleting it: if another process took it over meanwhile,
      // what was moved is its fresh lock, which is put back.
      const aside = `${file}.stale-${process.pid}`;
      try {
        renameSync(file, aside);
      } catch {
        continue; // gone already: someone else took over; try again
      }
      const moved = holderOf(aside);
      if (holderAlive(file, moved)) {
        restore(aside, file);
        throw lockedError(out, moved);
      }
      rmSync(aside, { force: true });
      log(`${out}: taking over the lock of process ${pid ?? "(unknown)"}, which is no longer running`);
    }
    throw lockedError(out, holderOf(file));
  }

  /** Gives the lock up (once; later calls do nothing). */
  release(): void {
    if (!held.delete(this.file)) return;
    process.off("exit", this.onExit);
    if (holderOf(this.file) === process.pid) rmSync(this.file, { force: true });
  }
}

/** Creates the lock file with this process's PID, or returns false when one exists. */
function tryCreate(file: string): boolean {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w");
  writeSync(
    fd,
    `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() })}\n`,
  );
  closeSync(fd);
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Puts a lock moved aside by mistake back, unless a new one appeared meanwhile. */
function restore(aside: string, file: string): void {
  try {
    linkSync(aside, file);
  } catch {
    // A newer lock exists: the moved one's owner will find its lock replaced; nothing better to do.
  }
  rmSync(aside, { force: true });
}
