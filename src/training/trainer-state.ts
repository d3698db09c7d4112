// trainer.json read back: every field checked, so that an empty, truncated or hand-edited file is
// one line naming the file and the field, never a stack trace or a resume from nonsense.
import { BASELINES, ENCODERS, PARSERS, REWARDS, TASKS, TRANSITION_MODES } from "../models/kinds.js";
import { MODEL_SIZES } from "../models/sizes.js";
import { Fields } from "../util/checked-json.js";
import { ENTROPY_DECAYS, FLOAT_DTYPES, OPTIMIZERS, TRAIN_DEFAULTS } from "./options.js";
import type { TrainerState } from "./run-directory.js";

/** Checks parsed trainer.json `json` (from `file`) and returns it as a TrainerState. */
export function checkTrainerState(json: unknown, file: string): TrainerState {
  const f = new Fields(json, file);
  f.literal("format", "spinn-trainer");
  f.literal("version", 1);
  for (const key of ["step", "epoch", "batchInEpoch", "evalsSinceBest"]) f.int(key);
  f.string("engineRng");
  if (f.object.rewardAverage !== null && f.has("rewardAverage")) f.number("rewardAverage");
  if (f.has("elapsedSeconds") && f.number("elapsedSeconds") < 0)
    f.fail("elapsedSeconds", "expected a number >= 0", f.object.elapsedSeconds);
  const rng = f.nested("epochRng");
  rng.literal("algorithm", "xoshiro128**");
  const s = rng.object.s;
  if (!Array.isArray(s) || s.length !== 4 || !s.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32))
    rng.fail("s", "expected 4 unsigned 32-bit integers", s);
  const totals = f.nested("epochTotals");
  totals.int("examples");
  totals.int("correct");
  // A diverged epoch's loss sum is NaN, which JSON writes as null.
  if (totals.object.lossSum !== null) totals.number("lossSum");
  if (f.object.best !== null) {
    const best = f.nested("best");
    best.number("devAccuracy");
    best.int("step");
    best.int("epoch");
  }
  checkOptions(f.nested("options"));
  return json as TrainerState;
}

const INTEGER_OPTIONS = [
  "epochs",
  "batchSize",
  "batchTokens",
  "seed",
  "evalEvery",
  "patience",
  "maxSteps",
  "minCount",
  "maxLength",
  "entropyDecaySteps",
  "ppoEpochs",
];

/** The saved options: required ones present, every one present of the right type or choice. */
function checkOptions(o: Fields): void {
  o.oneOf("task", TASKS);
  o.oneOf("model", ENCODERS);
  for (const key of ["train", "dev", "out"]) o.string(key);
  for (const key of ["embeddings", "embeddingsCache"]) if (o.has(key)) o.string(key);
  if (o.has("trainEmbeddings")) o.boolean("trainEmbeddings");
  o.boolean("lowercase");
  o.number("lr");
  if (o.has("policyLr")) o.number("policyLr");
  if (o.has("parserHidden")) o.int("parserHidden", 1);
  if (o.has("composerTracker")) o.int("composerTracker", 0);
  const choices: Record<string, readonly string[]> = {
    optimizer: OPTIMIZERS,
    dtype: FLOAT_DTYPES,
    transitions: TRANSITION_MODES,
    reward: REWARDS,
    baseline: BASELINES,
    entropyDecay: ENTROPY_DECAYS,
    parser: PARSERS,
  };
  // Options added after a checkpoint was written may be missing (they take their defaults).
  const defaults: Record<string, unknown> = { ...TRAIN_DEFAULTS };
  for (const [key, value] of Object.entries(defaults)) {
    if (!o.has(key)) continue;
    if (choices[key]) o.oneOf(key, choices[key]);
    else if (typeof value === "boolean") o.boolean(key);
    else if (typeof value === "string") o.string(key);
    else if (INTEGER_OPTIONS.includes(key)) o.int(key);
    else o.number(key);
  }
  if (o.has("curriculum")) {
    const c = o.object["curriculum"];
    if (!Array.isArray(c) || !c.every((n) => Number.isInteger(n) && (n as number) >= 1)) {
      o.fail("curriculum", "a list of positive integers", c);
    }
  }
  for (const [key, spec] of Object.entries(MODEL_SIZES)) {
    if (!o.has(key)) continue;
    if (spec.kind === "integer") o.int(key, spec.min);
    else o.number(key);
  }
}
