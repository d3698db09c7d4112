// Shared by the RL-SPINN tests: a tiny float64 RL-SPINN for ListOps (sizes small enough for
// finite differences: ../finite-differences.ts).
import { manualSeed } from "../../src/engine/index.js";
import { defaultConfig, Model } from "../../src/models/model.js";

/**
 * A float64 RL-SPINN with 4-d embeddings, hidden 3, tracker 3, one 4-wide MLP layer; with
 * `parser`, a separate parser of the same sizes decides its transitions (models/parser.ts; "merge":
 * the merge parser, models/merge-parser.ts); `composerTracker`: the composer's own tracker beside it.
 */
export function tinyRlSpinn(
  seed: number,
  options: { valueHead?: boolean; parser?: boolean | "merge"; composerTracker?: number } = {},
): Model {
  manualSeed(seed);
  const config = {
    ...defaultConfig("listops", "rl-spinn", 12),
    dEmbed: 4,
    dHidden: 3,
    dTracker: 3,
    dMlp: 4,
    nMlp: 1,
    ...(options.valueHead ? { valueHead: true } : {}),
    ...(options.parser
      ? {
          parser: {
            ...(options.parser === "merge" ? { kind: "merge" as const } : {}),
            dEmbed: 4,
            dHidden: 3,
            dTracker: 3,
          },
        }
      : {}),
    ...(options.composerTracker ? { composerTracker: options.composerTracker } : {}),
  };
  return new Model(config, { dtype: "float64" });
}
