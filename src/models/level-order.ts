// The level schedule of given trees (issue 16): without a tracker, a composition depends only on
// its two children, so the order of the transitions does not matter, only that children come
// before their parent. A node's level is 1 + the larger of its children's levels (leaves 0); all
// the nodes of one level in the whole batch can be composed at once, so a batch costs its
// tallest tree's height in sequential steps instead of 2n − 1 transitions of its longest
// sentence (ListOps: expressions of ~1,000 tokens whose trees are a few dozen levels deep).
//
// The schedule is built on the host by running the same StackMachine over the given
// transitions (no tensors), so the rows are those the step path writes, the machine's checks
// of the transitions apply unchanged, and the roots are the machine's top rows.
import type { ReduceStep, StackMachine } from "./stack-machine.js";

/**
 * Runs `machine` over the given transitions (N × steps, SKIP-padded) and returns, per level 1..H,
 * the compositions of that level in the whole batch (sentence, left and right child rows, output
 * row). `onStep` sees each step's compositions as the step path would (KeptRows).
 */
export function levelSchedule(
  machine: StackMachine,
  given: Uint8Array,
  steps: number,
  onStep?: (step: number, popped: ReduceStep) => void,
): ReduceStep[] {
  const N = machine.size;
  const level = new Int32Array(machine.rowCount); // leaves and the null row: 0
  const byLevel: number[][] = []; // per level − 1: sentence, left, right, out, …
  const actions = new Uint8Array(N);
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < N; i++) actions[i] = given[i * steps + s]!;
    const popped = machine.apply(actions, s);
    onStep?.(s, popped);
    for (let k = 0; k < popped.out.length; k++) {
      const left = popped.left[k]!;
      const right = popped.right[k]!;
      const out = popped.out[k]!;
      const l = 1 + Math.max(level[left]!, level[right]!);
      level[out] = l;
      while (byLevel.length < l) byLevel.push([]);
      byLevel[l - 1]!.push(popped.examples[k]!, left, right, out);
    }
  }
  return byLevel.map(toReduceStep);
}

function toReduceStep(flat: number[]): ReduceStep {
  const R = flat.length / 4;
  const r: ReduceStep = {
    examples: new Int32Array(R),
    left: new Int32Array(R),
    right: new Int32Array(R),
    out: new Int32Array(R),
  };
  for (let k = 0; k < R; k++) {
    r.examples[k] = flat[4 * k]!;
    r.left[k] = flat[4 * k + 1]!;
    r.right[k] = flat[4 * k + 2]!;
    r.out[k] = flat[4 * k + 3]!;
  }
  return r;
}
