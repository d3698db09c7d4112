// Shared by the RL tests that check a REINFORCE estimate against the exact gradient of the
// expected reward (30-rl-spinn, 36-merge-parser): the model's gradients as one vector, and the
// Monte Carlo checks, given every outcome's probability, reward and ∇log p.
import assert from "node:assert/strict";
import type { Model } from "../../src/models/model.js";

/** All trainable parameters' gradients as one vector (zeros where a parameter got none). */
export function gradients(model: Model): Float64Array {
  const parts = model.store.trainable().map(([, p]) => p.grad?.toFloat64Array() ?? new Float64Array(p.numel));
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function zeroGrads(model: Model): void {
  for (const [, p] of model.store.trainable()) p.zeroGrad();
}

/** Every outcome (a tree, or a merge order) of a policy: p, its reward and ∇log p. */
export interface Outcomes {
  p: number[];
  reward: number[];
  gradLogP: Float64Array[];
}

/** The expected reward Σ p r and its exact gradient Σ p r ∇log p. */
export function exactGradient(o: Outcomes): { expected: number; exact: Float64Array } {
  const expected = o.p.reduce((s, pk, k) => s + pk * o.reward[k]!, 0);
  const exact = new Float64Array(o.gradLogP[0]!.length);
  o.p.forEach((pk, k) => {
    for (let j = 0; j < exact.length; j++) exact[j]! += pk * o.reward[k]! * o.gradLogP[k]![j]!;
  });
  return { expected, exact };
}

/**
 * The checks of a sample of M outcomes (`counts` of each) and the REINFORCE estimate from it
 * (advantages against the exact expected reward): each count within 5 standard deviations of
 * M p, and each component of the estimate within 5 Monte Carlo standard errors of the exact
 * gradient, of which more than 20 must carry some policy gradient.
 */
export function assertMatchesExactGradient(o: Outcomes, counts: number[], estimate: Float64Array): void {
  const M = counts.reduce((a, b) => a + b, 0);
  const { expected, exact } = exactGradient(o);
  o.p.forEach((pk, k) => {
    const sd = Math.sqrt(M * pk * (1 - pk));
    assert.ok(Math.abs(counts[k]! - M * pk) < 5 * sd + 1, `outcome ${k}: ${counts[k]} vs ${M * pk}`);
  });
  let checked = 0;
  for (let j = 0; j < exact.length; j++) {
    let second = 0;
    o.p.forEach((pk, k) => {
      second += pk * ((o.reward[k]! - expected) * o.gradLogP[k]![j]!) ** 2;
    });
    const se = Math.sqrt(Math.max(0, second - exact[j]! ** 2) / M);
    assert.ok(
      Math.abs(estimate[j]! - exact[j]!) <= 5 * se + 1e-9,
      `component ${j}: estimate ${estimate[j]} vs exact ${exact[j]} (se ${se})`,
    );
    if (se > 0) checked++;
  }
  assert.ok(checked > 20, `${checked} components carry policy gradient`);
}
