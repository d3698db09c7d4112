import type { Command } from "commander";

/** `spinn data ...` and `spinn listops ...`: filled in by the data layer. */
export function registerDataCommands(_program: Command): void {}
