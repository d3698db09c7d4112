// Shared by the RL-SPINN tests: a tiny float64 RL-SPINN for ListOps (sizes small enough for
// finite differences), and central finite differences of a loss over one parameter's entries.
import { manualSeed, noGrad, type Tensor, tensor } from "../../src/engine/index.js";
import { defaultConfig, Model } from "../../src/models/model.js";

/** A float64 RL-SPINN with 4-d embeddings, hidden 3, tracker 3, one 4-wide MLP layer. */
export function tinyRlSpinn(seed: number, options: { valueHead?: boolean } = {}): Model {
  manualSeed(seed);
  const config = {
    ...defaultConfig("listops", "rl-spinn", 12),
    dEmbed: 4,
    dHidden: 3,
    dTracker: 3,
    dMlp: 4,
    nMlp: 1,
    ...(options.valueHead ? { valueHead: true } : {}),
  };
  return new Model(config, { dtype: "float64" });
}

/** d loss / d parameter[j] for every entry j, by central differences (the parameter restored). */
export function numericGradient(parameter: Tensor, loss: () => number, h = 1e-6): Float64Array {
  const values = parameter.toFloat64Array();
  const set = (j: number, x: number) =>
    noGrad(() => {
      const v = Float64Array.from(values);
      v[j] = x;
      parameter.copy_(tensor(v, { shape: parameter.shape, dtype: "float64" }));
    });
  const gradient = new Float64Array(values.length);
  for (let j = 0; j < values.length; j++) {
    set(j, values[j]! + h);
    const up = loss();
    set(j, values[j]! - h);
    const down = loss();
    set(j, values[j]!);
    gradient[j] = (up - down) / (2 * h);
  }
  return gradient;
}
