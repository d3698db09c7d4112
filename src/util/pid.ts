// Whether a process id names a live process: signal 0 checks without sending anything. EPERM
// means the process exists but belongs to someone else, so it is alive too.
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
