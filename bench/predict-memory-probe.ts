// Loaded into `spinn predict` by bench/predict-memory.ts (node --import): on SIGUSR2, writes the
// engine's memory() as one JSON line to stderr. The CLI imports the same engine module.
import { memory } from "../src/engine/index.js";

process.on("SIGUSR2", () => {
  const { heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  process.stderr.write(
    `@memory ${JSON.stringify({ ...memory(), heapUsed, heapTotal, external, arrayBuffers })}\n`,
  );
});
