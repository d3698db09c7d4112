// SPINN's encoder on the thin stack (DESIGN.md). Per step, a fixed handful of batched ops: one
// read of [buffer top, stack top, stack second] for the tracker LSTM, one TreeLSTM composition
// for the examples that REDUCE, one write of the new rows. No per-example tensors.
import type { SentenceBatch } from "../data/batching.js";
import { REDUCE, SHIFT, SKIP } from "../data/transitions.js";
import {
  BatchedLinear,
  cat,
  Linear,
  LSTMCell,
  type ParamPath,
  rand,
  StateMemory,
  stack,
  type Tensor,
  tensor,
  treeLstmCell,
  zeros,
} from "../engine/index.js";
import { StackMachine } from "./stack-machine.js";

export interface SpinnConfig {
  dHidden: number;
  /** Tracker LSTM size; 0 for SPINN-PI-NT (no tracker). */
  dTracker: number;
  /** Full SPINN: the tracker also predicts SHIFT/REDUCE (needs a tracker). */
  predictTransitions?: boolean;
}

/**
 * How a pass decides its transitions: follow the batch's own ("given"; a predicting encoder
 * scores them: teacher forcing), take the most probable valid action ("greedy"), or draw each
 * action from the tracker's policy ("sample", RL-SPINN's training; the uniforms come from the
 * engine's seeded CPU generator, so a run is reproducible and resumes exactly).
 */
export type TransitionSource = "given" | "greedy" | "sample";

/** An encoder pass: encodings, the transition loss (teacher forcing), and the trees used. */
export interface SpinnPass {
  encoding: Tensor;
  /** Mean cross-entropy of the predicted transitions against the given ones, or null. */
  transitionLoss: Tensor | null;
  /**
   * Per sentence (N), for a predicting encoder: the log-probability of the transitions followed
   * under the policy restricted to valid actions (forced actions count as probability 1), and
   * the summed entropy of that policy at the steps with a real choice. Null otherwise.
   */
  logProb: Tensor | null;
  entropy: Tensor | null;
  /** The transitions followed, N × steps, SKIP-padded. */
  transitions: Uint8Array;
  steps: number;
}

/**
 * The TreeLSTM cell as the paper writes it, from the gates [a, i, f1, f2, o] (R × 5H) and the
 * children's cells (R × H each): c = tanh(a)σ(i) + σ(f1)c_l + σ(f2)c_r, h = σ(o)tanh(c).
 * Returns [h | c] (R × 2H). The readable definition: Reduce runs the fused `treeLstmCell`.
 */
export function treeLstm(gates: Tensor, leftCell: Tensor, rightCell: Tensor): Tensor {
  const [a, i, f1, f2, o] = gates.chunk(5, 1) as [Tensor, Tensor, Tensor, Tensor, Tensor];
  const c = a.tanh().mul(i.sigmoid()).add(f1.sigmoid().mul(leftCell)).add(f2.sigmoid().mul(rightCell));
  const h = o.sigmoid().mul(c.tanh());
  return cat([h, c], 1);
}

/**
 * The LSTM cell (the tracker's), from the gates [i, f, g, o] (R × 4H) and the previous cell
 * (R × H): c = σ(f)c_prev + σ(i)tanh(g), h = σ(o)tanh(c). Returns [h | c] (R × 2H). The readable
 * definition: LSTMCell runs the fused `lstmCell`.
 */
export function lstm(gates: Tensor, prevCell: Tensor): Tensor {
  const [i, f, g, o] = gates.chunk(4, 1) as [Tensor, Tensor, Tensor, Tensor];
  const c = f.sigmoid().mul(prevCell).add(i.sigmoid().mul(g.tanh()));
  const h = o.sigmoid().mul(c.tanh());
  return cat([h, c], 1);
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
   * The gates' product for a pass that composes `rows` nodes in all: the three weights side by
   * side, 5H × (2H [+ T]), so that a step costs one matrix product instead of three, and the
   * weight gradient one product for the whole pass (BatchedLinear). Build it once per batch.
   */
  stepProduct(rows: number): BatchedLinear {
    const weights = this.track
      ? [this.left.weight, this.right.weight, this.track.weight]
      : [this.left.weight, this.right.weight];
    return new BatchedLinear(cat(weights, 1), this.left.bias, rows);
  }

  /**
   * left, right: R × 2H states ([h, c]); tracking: R × T (null without a tracker); product: the
   * stepProduct() of this pass. Returns R × 2H.
   */
  forward(
    left: Tensor,
    right: Tensor,
    tracking: Tensor | null,
    product: BatchedLinear = this.stepProduct(left.shape[0]!),
  ): Tensor {
    const H = this.dHidden;
    const inputs = [left.narrow(1, 0, H), right.narrow(1, 0, H)];
    if (this.track) {
      if (!tracking) throw new Error("this composition has a tracker input: pass the tracker state");
      inputs.push(tracking);
    }
    // treeLstm(...) with the same arguments, as one fused native op: same values and gradients
    // (test/engine/90-cells), without a dozen intermediate tensors per step.
    return treeLstmCell(product.forward(cat(inputs, 1)), left.narrow(1, H, H), right.narrow(1, H, H));
  }
}

/** The tracker: an LSTM cell over the h of [buffer top, stack top, stack second]. */
export class Tracker {
  /** LSTMCell.forward is the fused form of lstm(...) above. */
  readonly cell: LSTMCell;
  /** SHIFT/REDUCE scores from the tracker state (full SPINN only). */
  readonly transition: Linear | null;

  constructor(
    path: ParamPath,
    readonly dHidden: number,
    readonly dTracker: number,
    predictTransitions = false,
  ) {
    this.cell = new LSTMCell(path.sub("rnn"), 3 * dHidden, dTracker);
    this.transition = predictTransitions ? new Linear(path.sub("transition"), dTracker, 2) : null;
  }
}

/**
 * The valid action with the higher score: REDUCE needs two stack items, SHIFT a word left in the
 * buffer, so whatever the scores, the result is a binary tree over all the words.
 */
export function chooseAction(
  shiftScore: number,
  reduceScore: number,
  canShift: boolean,
  canReduce: boolean,
): number {
  if (canShift && canReduce) return reduceScore > shiftScore ? REDUCE : SHIFT;
  return canShift ? SHIFT : REDUCE;
}

/**
 * An action drawn from the softmax of the two scores restricted to the valid actions, with the
 * uniform draw u in [0, 1): REDUCE when u < P(REDUCE) = sigmoid(reduce − shift).
 */
export function sampleAction(
  shiftScore: number,
  reduceScore: number,
  canShift: boolean,
  canReduce: boolean,
  u: number,
): number {
  if (canShift && canReduce) return u < 1 / (1 + Math.exp(shiftScore - reduceScore)) ? REDUCE : SHIFT;
  return canShift ? SHIFT : REDUCE;
}

export class SpinnEncoder {
  readonly reduce: Reduce;
  readonly tracker: Tracker | null;

  constructor(
    path: ParamPath,
    readonly config: SpinnConfig,
  ) {
    this.reduce = new Reduce(path.sub("reduce"), config.dHidden, config.dTracker);
    if (config.predictTransitions && !(config.dTracker > 0))
      throw new Error("predicting transitions needs a tracker");
    this.tracker =
      config.dTracker > 0
        ? new Tracker(path.sub("tracker"), config.dHidden, config.dTracker, config.predictTransitions)
        : null;
  }

  get outputSize(): number {
    return this.config.dHidden;
  }

  /** Sentence encodings (N × H) from compact leaf states (tokens × 2H). */
  encode(leaves: Tensor, batch: SentenceBatch): Tensor {
    return this.run(leaves, batch, this.tracker?.transition ? "greedy" : "given").encoding;
  }

  /**
   * One pass over a batch, its transitions decided as `source` says. Predicted and sampled
   * transitions cost one small host transfer (the N × 2 scores) per step; given ones none.
   */
  run(leaves: Tensor, batch: SentenceBatch, source: TransitionSource): SpinnPass {
    const predicting = this.tracker?.transition ?? null;
    const given = source === "given" ? batch.transitions : null;
    if (source === "given" && !given) {
      throw new Error("this SPINN variant needs given transitions (parses) for every sentence");
    }
    if (source !== "given" && !predicting) {
      throw new Error(`${source} transitions need an encoder that predicts transitions`);
    }
    const H = this.config.dHidden;
    const N = batch.size;
    const device = leaves.device;
    const machine = new StackMachine(batch.lengths);
    const memory = new StateMemory(machine.rowCount, 2 * H, { dtype: leaves.dtype, device });
    memory.write(rowRange(0, machine.leafCount), leaves);
    let steps = 0;
    for (let i = 0; i < N; i++) steps = Math.max(steps, 2 * batch.lengths[i]! - 1);
    if (given) steps = batch.steps;
    const followed = new Uint8Array(N * steps).fill(SKIP);

    let trackH: Tensor | null = null;
    let trackC: Tensor | null = null;
    if (this.tracker) {
      trackH = zeros([N, this.config.dTracker], { dtype: leaves.dtype, device });
      trackC = trackH;
    }
    // Every sentence of n words takes 2n − 1 transitions and n − 1 compositions, whatever its tree.
    const reduceProduct = this.reduce.stepProduct(machine.leafCount - N);
    let transitionCount = 0;
    for (let i = 0; i < N; i++) transitionCount += 2 * batch.lengths[i]! - 1;
    const trackerProduct = this.tracker?.cell.stepProduct(transitionCount);
    const actions = new Uint8Array(N);
    const active = new Uint8Array(N);
    const trackerRows = new Int32Array(3 * N);
    const activeRows = new Int32Array(N);
    const activeTrackerRows = new Int32Array(3 * N);
    // Per step, for a predicting encoder: the scores (N × 2), and on the host the action taken
    // and whether it was a real choice (both actions valid); the losses are built from them once
    // per batch, after the loop.
    const stepScores: Tensor[] = [];
    const choices = new Int32Array(steps * N);
    const activeMask = new Float32Array(steps * N);
    const choiceMask = new Float32Array(steps * N);
    const uniforms = source === "sample" ? rand([steps * N]).toFloat32Array() : null;
    for (let s = 0; s < steps; s++) {
      let allActive = true;
      for (let i = 0; i < N; i++) {
        const a = given ? given[i * steps + s]! : s < 2 * batch.lengths[i]! - 1 ? SHIFT : SKIP;
        actions[i] = a;
        active[i] = a === SKIP ? 0 : 1;
        if (a === SKIP) allActive = false;
      }
      if (this.tracker && trackH && trackC) {
        machine.trackerRows(trackerRows);
        if (allActive) {
          const x = memory
            .read(trackerRows)
            .narrow(1, 0, H)
            .reshape(N, 3 * H);
          ({ h: trackH, c: trackC } = this.tracker.cell.forward(x, trackH, trackC, trackerProduct));
        } else {
          // Only the examples that move at this step run the tracker; the others keep their
          // state, so a result never depends on the batch (and padding costs nothing).
          let count = 0;
          for (let i = 0; i < N; i++) {
            if (!active[i]) continue;
            activeRows[count] = i;
            for (let k = 0; k < 3; k++) activeTrackerRows[3 * count + k] = trackerRows[3 * i + k]!;
            count++;
          }
          if (count > 0) {
            const rows = tensor(activeRows.subarray(0, count), { device });
            const x = memory
              .read(activeTrackerRows.subarray(0, 3 * count))
              .narrow(1, 0, H)
              .reshape(count, 3 * H);
            const next = this.tracker.cell.forward(
              x,
              trackH.indexSelect(0, rows),
              trackC.indexSelect(0, rows),
              trackerProduct,
            );
            trackH = trackH.indexCopy(0, rows, next.h);
            trackC = trackC.indexCopy(0, rows, next.c);
          }
        }
        if (predicting) {
          const scores = predicting.forward(trackH);
          stepScores.push(scores);
          const host = given ? null : scores.toFloat32Array();
          for (let i = 0; i < N; i++) {
            if (!active[i]) continue;
            const canShift = machine.canShift(i);
            const canReduce = machine.canReduce(i);
            if (host) {
              const shiftScore = host[2 * i]!;
              const reduceScore = host[2 * i + 1]!;
              actions[i] = uniforms
                ? sampleAction(shiftScore, reduceScore, canShift, canReduce, uniforms[s * N + i]!)
                : chooseAction(shiftScore, reduceScore, canShift, canReduce);
            }
            choices[s * N + i] = actions[i] === REDUCE ? 1 : 0;
            activeMask[s * N + i] = 1;
            choiceMask[s * N + i] = canShift && canReduce ? 1 : 0;
          }
        }
      }
      for (let i = 0; i < N; i++) followed[i * steps + s] = actions[i]!;
      const r = machine.apply(actions, s);
      const R = r.examples.length;
      if (R === 0) continue;
      const both = memory.read(concatRows(r.left, r.right));
      const tracking = trackH ? trackH.indexSelect(0, tensor(r.examples, { device })) : null;
      memory.write(
        r.out,
        this.reduce.forward(both.narrow(0, 0, R), both.narrow(0, R, R), tracking, reduceProduct),
      );
    }
    for (let i = 0; i < N; i++) {
      if (!machine.isDone(i)) throw new Error(`sentence ${i} of the batch did not reduce to a single tree`);
    }
    const policy = stepScores.length > 0 ? policyTerms(stepScores, choices, activeMask, choiceMask) : null;
    return {
      encoding: memory.read(machine.topRows()).narrow(1, 0, H),
      transitionLoss: given ? (policy?.crossEntropy ?? null) : null,
      logProb: policy?.logProb ?? null,
      entropy: policy?.entropy ?? null,
      transitions: followed,
      steps,
    };
  }
}

/**
 * From the per-step scores (steps of N × 2) and the host-side record of the actions: the mean
 * cross-entropy of the actions over active steps (teacher forcing), and per sentence the
 * log-probability and entropy of the policy restricted to valid actions, which only the steps
 * with a real choice contribute to (a forced action has probability 1 and no entropy).
 */
function policyTerms(
  stepScores: Tensor[],
  choices: Int32Array,
  activeMask: Float32Array,
  choiceMask: Float32Array,
): { crossEntropy: Tensor | null; logProb: Tensor; entropy: Tensor } {
  const S = stepScores.length;
  const N = choices.length / S;
  const logp = stack(stepScores, 0).logSoftmax(2); // S × N × 2
  const device = logp.device;
  const dtype = logp.dtype;
  const picked = logp.gather(2, tensor(choices, { shape: [S, N, 1], device })).squeeze(2); // S × N
  const choice = tensor(choiceMask, { shape: [S, N], dtype, device });
  let activeCount = 0;
  for (const a of activeMask) activeCount += a;
  const crossEntropy =
    activeCount > 0
      ? picked
          .mul(tensor(activeMask, { shape: [S, N], dtype, device }))
          .sum()
          .neg()
          .div(activeCount)
      : null;
  const entropy = logp.exp().mul(logp).sum([2]).neg().mul(choice).sum([0]);
  return { crossEntropy, logProb: picked.mul(choice).sum([0]), entropy };
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
