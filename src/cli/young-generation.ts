// Keeps V8's young generation at its starting size for the `spinn` process.
//
// V8 doubles each semi-space of the young generation, up to 16 MiB, once enough objects have
// survived its scavenges. In a long run they always do: a training step's tensor handles and row
// lists live for the whole step. That growth cost ~26 MiB of resident memory in a SNLI epoch
// (496 → 470 MiB peak, BENCHMARKS "Memory") and bought no speed, because the work is native.
//
// Node cannot lower the young generation's maximum once the process runs, but V8 reads
// `--semi-space-growth-factor` each time it grows a semi-space, so a factor of 1 set at start-up
// makes every growth a no-op. Flags set at run time hold for the whole process, the serve workers
// included. A choice the user made on node's command line or in NODE_OPTIONS (which allows
// `--max-semi-space-size`) wins.
import { setFlagsFromString } from "node:v8";

/** Whether node's options already say how large the young generation may grow. */
export function userSizedYoungGeneration(execArgv: readonly string[], nodeOptions: string): boolean {
  const mentions = (option: string) => /semi[-_]space/.test(option);
  return execArgv.some(mentions) || nodeOptions.split(/\s+/).some(mentions);
}

export function keepYoungGenerationSmall(): void {
  if (userSizedYoungGeneration(process.execArgv, process.env.NODE_OPTIONS ?? "")) return;
  setFlagsFromString("--semi-space-growth-factor=1");
}
