// Test hooks for fault injection: SPINN_TEST_CRASH_AT=<point>[:<n>] kills this process with
// SIGKILL the n-th time (default: the first) it reaches the named point, so that tests can crash
// a checkpoint write or a recovery at an exact moment without strace. Unset, it costs one lookup.
const reached = new Map<string, number>();

/** Dies here (SIGKILL, no cleanup, like a power cut) when SPINN_TEST_CRASH_AT names this point. */
export function crashPoint(point: string): void {
  const spec = process.env.SPINN_TEST_CRASH_AT;
  if (!spec) return;
  const [name, nth] = spec.split(/:(?=\d+$)/);
  if (name !== point) return;
  const count = (reached.get(point) ?? 0) + 1;
  reached.set(point, count);
  if (count === Number(nth ?? 1)) process.kill(process.pid, "SIGKILL");
}
