// `npm run bench:eval-rate`: a shipped model's evaluation rate (items/s) through the library's
// raw-input calls, at several batchings, one JSON object. The narrow batches of a server under
// load (calls of `perCall` consecutive items in arrival order) are where each step's fixed cost
// shows; compare builds by running it from each build's copy in alternation.
//   BENCH_MODEL (snli-spinn), BENCH_BATCHES ("32x32,64x64,256x1024": batch size x items per
//   call; "rolling64": a rolling batch that always holds 64 items, as a server with continuous
//   batching under 64 clients), BENCH_SECONDS (3 per measurement). SPINN_BLAS_THREADS=1 for one
//   BLAS thread.
import { runtimeInfo } from "../src/engine/index.js";
import { itemsOf, offlineRate, rollingRate } from "./shipped-model-rate.js";

const model = process.env.BENCH_MODEL ?? "snli-spinn";
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const batchings = (process.env.BENCH_BATCHES ?? "32x32,64x64,256x1024,rolling64").split(",").map((b) => {
  const rolling = /^rolling(\d+)$/.exec(b);
  const [batchSize, perCall] = rolling
    ? [Number(rolling[1]), 0]
    : (b.split("x").map(Number) as [number, number]);
  if (!(batchSize >= 1 && (rolling || perCall >= 1)))
    throw new Error(`BENCH_BATCHES: "${b}" is not BATCHxPERCALL or rollingN`);
  return { batchSize, perCall, rolling: rolling !== null };
});

const items = itemsOf(model);
const rates = batchings.map(({ batchSize, perCall, rolling }) =>
  rolling
    ? {
        batch: batchSize,
        order: "rolling (items join and leave at any step)",
        items_per_s: Math.round(rollingRate(model, items, { inFlight: batchSize, seconds })),
      }
    : {
        batch: batchSize,
        per_call: perCall,
        order: perCall <= batchSize ? "arrival" : "sorted within each call",
        items_per_s: Math.round(offlineRate(model, items, { batchSize, perCall, seconds })),
      },
);
const info = runtimeInfo();
console.log(
  JSON.stringify({
    benchmark: "eval-rate",
    model,
    seconds_per_rate: seconds,
    rates,
    blas_threads: info.blasThreads,
    packed_linear: info.packedLinear,
    date: new Date().toISOString(),
  }),
);
