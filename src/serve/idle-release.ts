// Hands the allocators' free memory back to the OS once a model worker has been idle a while.
// After a burst of large batches both glibc and mimalloc keep the pages the batches freed: glibc
// what it carved from its heap, mimalloc until the thread allocates again. So a server's RSS
// stayed at its burst's peak while it idled (BENCHMARKS.md, "Serving": 516-550 MiB after a burst
// of the 512 longest ListOps expressions, from 280-287 before it). A release takes a few ms, so it
// does not follow every batch: it runs once the worker has had nothing to do for `delayMs`.

export class IdleRelease {
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly release: () => void,
    private readonly delayMs: number,
  ) {}

  /** Work started: no release while it runs. */
  busy(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Work ended: release once no other work has started for `delayMs`. */
  idle(): void {
    this.busy();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.release();
    }, this.delayMs);
    // A pending release does not keep the worker alive.
    this.#timer.unref?.();
  }
}
