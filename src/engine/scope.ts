// Memory management. Native tensors are invisible to the JS garbage collector (a 4-byte handle
// can pin megabytes), so tensors are freed deterministically: by dispose(), or by the scope they
// were created in, which frees everything made inside it except what it returns (as tf.tidy and
// TorchSharp's DisposeScope). The native handle's finalizer is only the safety net for handles
// that were dropped without either, and it counts them so leaks show up in memory().
import { type MemoryReport, native } from "./native.js";
import type { Handle } from "./native-types.js";

/** What a scope needs from a tensor (implemented by Tensor). */
export interface Scoped {
  _scope: Scope | null;
  dispose(): void;
  /** Gives up the handle without freeing it, for release() to free many in one native call. */
  _detach?(): Handle | null;
  readonly isDisposed: boolean;
}

export class Scope {
  readonly tracked: Scoped[] = [];
  constructor(readonly parent: Scope | null) {}
}

let current: Scope | null = null;

/** Called by every new tensor: joins the innermost scope. */
export function track(t: Scoped): void {
  t._scope = current;
  current?.tracked.push(t);
}

function isScoped(v: unknown): v is Scoped {
  return typeof v === "object" && v !== null && "_scope" in v && typeof (v as Scoped).dispose === "function";
}

/** Finds every tensor in a result (itself, or inside arrays, Maps, Sets and plain objects). */
function collect(value: unknown, out: Set<Scoped>, seen: Set<unknown>): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (isScoped(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (value instanceof Set) for (const v of value) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, out, seen);
}

function release(s: Scope, survivors: Set<Scoped>): void {
  // The scope's tensors are freed in one native call (one per tensor would be most of a
  // training step's calls into the addon).
  const handles: Handle[] = [];
  for (const t of s.tracked) {
    if (t._scope !== s) continue; // kept, or moved out
    if (survivors.has(t)) {
      t._scope = s.parent;
      s.parent?.tracked.push(t);
    } else if (t._detach) {
      const h = t._detach();
      if (h !== null) handles.push(h);
    } else {
      t.dispose();
    }
  }
  s.tracked.length = 0;
  if (handles.length > 0) native.disposeMany(handles);
}

/**
 * Runs fn and disposes every tensor created inside it, except the tensors it returns (found in
 * arrays, Maps, Sets and plain objects), which move to the enclosing scope. fn must be
 * synchronous: an async function would let other work create tensors inside the scope.
 */
export function scope<T>(fn: () => T): T {
  const s = new Scope(current);
  current = s;
  let result: T;
  try {
    result = fn();
  } catch (err) {
    current = s.parent;
    release(s, new Set());
    throw err;
  }
  current = s.parent;
  if (result instanceof Promise) {
    release(s, new Set());
    throw new TypeError("scope() needs a synchronous function; await inside it and return plain results");
  }
  const survivors = new Set<Scoped>();
  collect(result, survivors, new Set());
  release(s, survivors);
  return result;
}

/** The innermost scope now (null outside every scope). */
export function currentScope(): Scope | null {
  return current;
}

/**
 * Moves a tensor into the given scope (one that encloses the current one, or null for none):
 * what a loop whose steps run in scopes of their own keeps from a step for after the loop.
 */
export function adopt<T extends Scoped>(t: T, into: Scope | null): T {
  if (t._scope === into) return t;
  t._scope = into;
  into?.tracked.push(t);
  return t;
}

/** Takes a tensor out of every scope: it lives until dispose() (parameters, optimizer state). */
export function keep<T extends Scoped>(t: T): T {
  t._scope = null;
  return t;
}

/** Moves a tensor from its scope to the enclosing one. */
export function moveToOuter<T extends Scoped>(t: T): T {
  const s = t._scope;
  if (s) {
    t._scope = s.parent;
    s.parent?.tracked.push(t);
  }
  return t;
}

/** What memory() reports: live tensors and bytes, handles, tensors the safety net freed. */
export type EngineMemory = MemoryReport;

/** Live native tensors and bytes, for leak tests and benchmarks. */
export function memory(): EngineMemory {
  return native.memory();
}

/**
 * Returns the native heap's free pages to the OS (glibc's malloc_trim, mimalloc's collection of
 * this thread's heap and the large-block range's free pages where they hold the tensors;
 * native/src/handles.cpp says why). For a process that handles a long stream batch by batch:
 * once per batch, with `betweenBatches: true`, keeps its RSS at what the batch needs instead of
 * the heap's high-water mark, and keeps up to 32 MiB of free tensor pages for the next batch.
 * Without it (an idle server), everything free goes back. Returns whether glibc released pages.
 */
export function releaseFreeMemory(options: { betweenBatches?: boolean } = {}): boolean {
  return native.releaseFreeMemory(options.betweenBatches ?? false);
}
