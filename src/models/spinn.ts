// SPINN's encoder on the thin stack (DESIGN.md). Per step, a fixed handful of batched ops: one
// read of [buffer top, stack top, stack second] for the tracker LSTM, one TreeLSTM composition
// for the examples that REDUCE, one write of the new rows. No per-example tensors.
import type { SentenceBatch } from "../data/batching.js";
import { SKIP } from "../data/transitions.js";
import {
  cat,
  Linear,
  LSTMCell,
  linear,
  type ParamPath,
  StateMemory,
  type Tensor,
  tensor,
  where,
  zeros,
} from "../engine/index.js";
import { StackMachine } from "./stack-machine.js";

export interface SpinnConfig {
  dHidden: number;
  /** Tracker LSTM size; 0 for SPINN-PI-NT (no tracker). */
  dTracker: number;
}

/** The TreeLSTM composition: gates a, i, f1, f2, o from W_l h_l + b + W_r h_r (+ W_t h_tracker). */
export class Reduce {
  readonly left: Linear;
  readonly right: Linear;
  readonly track: Linear | null;

  constructor(
    path: ParamPath,
    readonly dHidden: number,
    dTracker: number,
  ) {
    this.left = new Linear(path.sub("left"), dHidden, 5 * dHidden);
    this.right = new Linear(path.sub("right"), dHidden, 5 * dHidden, { bias: false });
    this.track = dTracker > 0 ? new Linear(path.sub("track"), dTracker, 5 * dHidden, { bias: false }) : null;
  }

  /**
   * The three weights side by side, 5H × (2H [+ T]), so that a step costs one matrix product
   * instead of three. Build it once per batch (it is differentiable: gradients reach each weight).
   */
  fusedWeight(): Tensor {
    return cat(
      this.track
        ? [this.left.weight, this.right.weight, this.track.weight]
        : [this.left.weight, this.right.weight],
      1,
    );
  }

  /**
   * left, right: R × 2H states ([h, c]); tracking: R × T (null without a tracker); weight: the
   * fusedWeight() of this batch. Returns R × 2H.
   */
  forward(left: Tensor, right: Tensor, tracking: Tensor | null, weight: Tensor = this.fusedWeight()): Tensor {
    const H = this.dHidden;
    const inputs = [left.narrow(1, 0, H), right.narrow(1, 0, H)];
    if (this.track) {
      if (!tracking) throw new Error("this composition has a tracker input: pass the tracker state");
      inputs.push(tracking);
    }
    const gates = linear(cat(inputs, 1), weight, this.left.bias);
    const [a, i, f1, f2, o] = gates.chunk(5, 1) as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const c = a
      .tanh()
      .mul(i.sigmoid())
      .add(f1.sigmoid().mul(left.narrow(1, H, H)))
      .add(f2.sigmoid().mul(right.narrow(1, H, H)));
    return cat([o.sigmoid().mul(c.tanh()), c], 1);
  }
}

/** The tracker: an LSTM cell over the h of [buffer top, stack top, stack second]. */
export class Tracker {
  readonly cell: LSTMCell;

  constructor(
    path: ParamPath,
    readonly dHidden: number,
    readonly dTracker: number,
  ) {
    this.cell = new LSTMCell(path.sub("rnn"), 3 * dHidden, dTracker);
  }
}

export class SpinnEncoder {
  readonly reduce: Reduce;
  readonly tracker: Tracker | null;

  constructor(
    path: ParamPath,
    readonly config: SpinnConfig,
  ) {
    this.reduce = new Reduce(path.sub("reduce"), config.dHidden, config.dTracker);
    this.tracker =
      config.dTracker > 0 ? new Tracker(path.sub("tracker"), config.dHidden, config.dTracker) : null;
  }

  get outputSize(): number {
    return this.config.dHidden;
  }

  /** Sentence encodings (N × H) from compact leaf states (tokens × 2H) and given transitions. */
  encode(leaves: Tensor, batch: SentenceBatch): Tensor {
    const transitions = batch.transitions;
    if (!transitions)
      throw new Error("this SPINN variant needs given transitions (parses) for every sentence");
    const H = this.config.dHidden;
    const N = batch.size;
    const machine = new StackMachine(batch.lengths);
    const memory = new StateMemory(machine.rowCount, 2 * H, { dtype: leaves.dtype, device: leaves.device });
    memory.write(rowRange(0, machine.leafCount), leaves);

    let trackH: Tensor | null = null;
    let trackC: Tensor | null = null;
    if (this.tracker) {
      trackH = zeros([N, this.config.dTracker], { dtype: leaves.dtype, device: leaves.device });
      trackC = trackH;
    }
    const reduceWeight = this.reduce.fusedWeight();
    const trackerWeights = this.tracker?.cell.fusedWeights();
    const actions = new Uint8Array(N);
    const active = new Uint8Array(N);
    const trackerRows = new Int32Array(3 * N);
    for (let s = 0; s < batch.steps; s++) {
      let allActive = true;
      for (let i = 0; i < N; i++) {
        const a = transitions[i * batch.steps + s]!;
        actions[i] = a;
        active[i] = a === SKIP ? 0 : 1;
        if (a === SKIP) allActive = false;
      }
      if (this.tracker && trackH && trackC) {
        const x = memory
          .read(machine.trackerRows(trackerRows))
          .narrow(1, 0, H)
          .reshape(N, 3 * H);
        const next = this.tracker.cell.forward(x, trackH, trackC, trackerWeights);
        if (allActive) {
          trackH = next.h;
          trackC = next.c;
        } else {
          // Padding steps leave an example's tracker untouched: results never depend on the batch.
          const mask = tensor(active, { dtype: "bool", device: leaves.device }).unsqueeze(1);
          trackH = where(mask, next.h, trackH);
          trackC = where(mask, next.c, trackC);
        }
      }
      const r = machine.apply(actions, s);
      const R = r.examples.length;
      if (R === 0) continue;
      const both = memory.read(concatRows(r.left, r.right));
      const tracking = trackH ? trackH.indexSelect(0, tensor(r.examples, { device: leaves.device })) : null;
      memory.write(
        r.out,
        this.reduce.forward(both.narrow(0, 0, R), both.narrow(0, R, R), tracking, reduceWeight),
      );
    }
    for (let i = 0; i < N; i++) {
      if (!machine.isDone(i)) throw new Error(`sentence ${i} of the batch did not reduce to a single tree`);
    }
    return memory.read(machine.topRows()).narrow(1, 0, H);
  }
}

export function rowRange(start: number, end: number): Int32Array {
  const out = new Int32Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}

function concatRows(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
