// Keeps objects alive across many scavenges, as a training step's handles do, then prints the
// young generation's size in bytes. Run with `keep` to call keepYoungGenerationSmall() first.
import { getHeapSpaceStatistics } from "node:v8";
import { keepYoungGenerationSmall } from "../../src/cli/young-generation.js";

if (process.argv[2] === "keep") keepYoungGenerationSmall();
let survivors: number[][] = [];
for (let round = 0; round < 200; round++) {
  // ~2 MiB of arrays per round, each alive for 20 rounds.
  for (let i = 0; i < 2000; i++) survivors.push(new Array(128).fill(round));
  if (survivors.length > 40000) survivors = survivors.slice(2000);
}
const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === "new_space");
process.stdout.write(`${newSpace?.space_size ?? -1}\n`);
