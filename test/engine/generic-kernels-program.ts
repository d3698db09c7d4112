// A small SPINN-like program over every fused op with a CPU path of its own and a device-generic
// (ATen) one: state-memory gathers of several parts, the products that gather their input, the
// cells inside a memory and the plain fused cells. 95-generic-kernels.test.ts runs it in-process
// (the CPU path) and, as a script, in a child with SPINN_GENERIC_KERNELS=1 (the path other
// devices take), and compares. Run as a script it prints {genericKernels, results} as JSON.
import { fileURLToPath } from "node:url";
import {
  BatchedLinear,
  Linear,
  lstmCell,
  manualSeed,
  ParameterStore,
  randn,
  runtimeInfo,
  StateMemory,
  scope,
  treeLstmCell,
} from "../../src/engine/index.js";

const rows = (...xs: number[]) => new Int32Array(xs);

/** The program's loss, the memories' rows and every gradient, as plain numbers (float64). */
export function genericKernelsProgram(): number[][] {
  manualSeed(11);
  return scope(() => {
    const [H, T] = [3, 2];
    const opts = { dtype: "float64" as const, requiresGrad: true };
    const leaves = randn([5, 2 * H], opts);
    const trackerRows = randn([2, 2 * T], opts);
    const wTracker = randn([4 * T, H + T], opts);
    const wCompose = randn([5 * H, 2 * H + T], opts);
    const extra = [randn([2, 5 * H], opts), randn([2, 4 * T], opts)] as const;
    const scorer = new Linear(new ParameterStore({ dtype: "float64" }).root(), T, 2);
    const memory = new StateMemory(8, 2 * H, { dtype: "float64" });
    const tracker = new StateMemory(5, 2 * T, { dtype: "float64" });
    memory.write(rows(0, 1, 2, 3, 4), leaves);
    tracker.write(rows(1, 2), trackerRows);
    // A tracker step, then a composition that reads the tracker's new h.
    const trackerGates = new BatchedLinear(wTracker, null, 2).forwardGathered([
      { memory, rows: rows(0, 3), group: 1, start: 0, count: H },
      { memory: tracker, rows: rows(1, 2), group: 1, start: 0, count: T },
    ]);
    tracker.writeLstmCell(rows(3, 4), trackerGates, rows(1, 2));
    const composeGates = new BatchedLinear(wCompose, null, 2).forwardGathered([
      { memory, rows: rows(0, 1, 2, 3), group: 2, start: 0, count: H },
      { memory: tracker, rows: rows(3, 4), group: 1, start: 0, count: T },
    ]);
    memory.writeTreeLstmCell(rows(5, 6), composeGates, rows(0, 2), rows(1, 3));
    const tree = treeLstmCell(
      extra[0],
      memory.read(rows(5, 6)).narrow(1, H, H),
      memory.gather(rows(4, 0), 1, H, H),
    );
    const lstm = lstmCell(extra[1], tracker.read(rows(3, 4)).narrow(1, T, T));
    const scores = scorer.forwardGathered([
      { memory: tracker, rows: rows(4, 3), group: 1, start: 0, count: T },
    ]);
    const loss = memory
      .read(rows(5, 6))
      .square()
      .sum()
      .add(tree.sigmoid().sum())
      .add(lstm.mul(lstm).sum())
      .add(scores.tanh().sum());
    loss.backward();
    const grads = [leaves, trackerRows, wTracker, wCompose, ...extra, scorer.weight, scorer.bias!].map(
      (t) => t.grad!,
    );
    const all = (m: StateMemory, n: number) => m.read(rows(...Array(n).keys()));
    return [loss, all(memory, 8), all(tracker, 5), tree, lstm, scores, ...grads].map((t) => t.toArray());
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = genericKernelsProgram();
  console.log(JSON.stringify({ genericKernels: runtimeInfo().genericKernels, results }));
}
