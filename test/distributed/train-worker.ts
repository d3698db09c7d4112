// One rank of a data-parallel training run through the library (20-equivalence.test.ts starts it
// with SPINN_TRAIN_WORKER set to the run's options as JSON; run as a test file by node --test,
// it does nothing). Without MASTER_PORT it trains alone, as a single process.
import { ProcessGroup } from "../../src/engine/index.js";
import { defaultTrainOptions, type TrainOptions } from "../../src/training/options.js";
import { train } from "../../src/training/trainer.js";

async function main(options: TrainOptions): Promise<void> {
  const env = process.env;
  const group = env.MASTER_PORT
    ? ProcessGroup.join({
        host: "127.0.0.1",
        port: Number(env.MASTER_PORT),
        rank: Number(env.RANK),
        worldSize: Number(env.WORLD_SIZE),
        timeoutMs: 60000,
      })
    : null;
  try {
    await train(options, {}, false, group);
  } finally {
    group?.destroy();
  }
}

if (process.env.SPINN_TRAIN_WORKER)
  await main(defaultTrainOptions(JSON.parse(process.env.SPINN_TRAIN_WORKER)));
