// Central finite differences, for the tests that check an analytic gradient against them
// (float64 tensors, small enough to perturb one entry at a time).
import assert from "node:assert/strict";
import { noGrad, type Tensor, tensor } from "../src/engine/index.js";

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

/** Asserts that `gradient` (of loss with respect to x) is the central difference within 1e-7 (relative above 1). */
export function assertFiniteDifferences(
  x: Tensor,
  gradient: Tensor,
  loss: () => number,
  label: string,
): void {
  const numeric = numericGradient(x, loss);
  const analytic = gradient.toFloat64Array();
  numeric.forEach((fd, i) => {
    assert.ok(
      Math.abs(fd - analytic[i]!) < 1e-7 * Math.max(1, Math.abs(fd)),
      `${label} ${i}: ${fd} vs ${analytic[i]}`,
    );
  });
}
