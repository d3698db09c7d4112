// The process's peak resident set size: the kernel's high-water mark, which sees the peak inside
// a training step (RSS sampled between steps misses it). Linux keeps it per process and lets the
// process reset it (writing 5 to /proc/self/clear_refs), so that each run of a `spinn bench
// --length` sweep, all in one process, reports its own peak rather than the sweep's so far.
import { readFileSync, writeFileSync } from "node:fs";

/** Starts a new high-water mark at the current RSS; false where the kernel does not allow it. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * The high-water mark in bytes since the last reset (VmHWM), or, where /proc/self/status cannot
 * be read, since the process started (getrusage; the same as `/usr/bin/time -f %M`).
 */
export function peakRssBytes(): number {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    if (kib !== undefined) return Number(kib) * 1024;
  } catch {
    // No /proc: the whole process's peak below.
  }
  return process.resourceUsage().maxRSS * 1024; // KiB
}
