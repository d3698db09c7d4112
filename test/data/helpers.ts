// Shared test helpers: where the repository and the shared data are, and temp fixture files.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run compiled, from dist/test/data/). */
export const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");

/** ../shared/data beside the repository (may be absent: integration tests skip then). */
export const sharedData = resolve(repoRoot, "../shared/data");

/** A fresh temporary directory with helpers to write fixture files into it. */
export async function fixtureDir(): Promise<{
  dir: string;
  write(name: string, text: string): Promise<string>;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "spinn-data-test-"));
  return {
    dir,
    async write(name, text) {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Awaits a promise expected to reject and returns the error. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the promise to reject");
}
