// SPINN's encoder on the thin stack (docs/ARCHITECTURE.md, "The thin stack"). Per step, a fixed
// handful of batched ops: the tracker LSTM over [buffer top, stack top, stack second] and one
// TreeLSTM composition for the examples that REDUCE, each a product that gathers its input from
// the state memories and a cell that writes its new rows there. No per-example tensors.
//
// The parts, as the paper names them: the tracking LSTM (TrackerState.step), the transition
// decision (Transitions: given, greedy or sampled), the stack and buffer (StackMachine), and the
// composition function REDUCE (Reduce, reduceStep). SpinnEncoder.run is the loop over them.
import type { SentenceBatch } from "../data/batching.js";
import { REDUCE, SHIFT, SKIP } from "../data/transitions.js";
import {
  adopt,
  BatchedLinear,
  cat,
  currentScope,
  type GatherPart,
  Linear,
  LSTMCell,
  type ParamPath,
  type Scope,
  StateMemory,
  scope,
  stack,
  type Tensor,
  tensor,
  treeLstmCell,
} from "../engine/index.js";
import { BatchShard } from "./batch-shard.js";
import {
  type EncoderPass,
  type FollowedTrees,
  type KeptReduces,
  type PolicyTerms,
  rowRange,
  type SentenceEncoder,
  type TransitionSource,
} from "./encoder.js";
import { levelSchedule } from "./level-order.js";
import { type ReduceStep, StackMachine } from "./stack-machine.js";

export interface SpinnConfig {
  dHidden: number;
  /** Tracker LSTM size; 0 for SPINN-PI-NT (no tracker). */
  dTracker: number;
  /** Full SPINN: the tracker also predicts SHIFT/REDUCE (needs a tracker). */
  predictTransitions?: boolean;
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

/**
 * REDUCE (the paper's composition step) for the sentences that reduce at this step: pop the two
 * top states, compose them with the TreeLSTM and the tracker's state, push the result (write it
 * to its new row). Reduce.forward's maths in three native calls for the whole batch: one gather
 * of the children's h and the tracker's h side by side, one product, and the fused cell inside
 * the memory, which reads the children's c from their rows and writes [h | c] to the new rows.
 * The merge parser (merge-parser.ts) composes its candidate parents with it too.
 */
export function reduceStep(
  reduce: Reduce,
  memory: StateMemory,
  popped: ReduceStep,
  tracker: TrackerState | null,
  product: BatchedLinear,
): void {
  const R = popped.examples.length;
  if (R === 0) return;
  const H = reduce.dHidden;
  // [h_l | h_r (| the tracker's h)]; the product keeps these row indices, not a copy of its
  // input, for its weight gradient.
  const parts: GatherPart[] = [
    { memory, rows: interleave(popped.left, popped.right), group: 2, start: 0, count: H },
  ];
  if (reduce.track) {
    if (!tracker) throw new Error("this composition has a tracker input: pass the tracker state");
    parts.push(tracker.hOf(popped.examples));
  }
  const gates = product.forwardGathered(parts);
  memory.writeTreeLstmCell(popped.out, gates, popped.left, popped.right);
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

  /** The tracker's state for a pass over N sentences that take `transitions` steps in all. */
  start(N: number, like: Tensor, transitions: number): TrackerState {
    return new TrackerState(this, N, like, this.cell.stepProduct(transitions), transitions);
  }
}

/**
 * The tracking LSTM's state through one pass. Each sentence's [h | c] lives in a state memory
 * of its own (row 0: the zero starting state; one new row per tracker update), and the host
 * keeps each sentence's current row: a step reads the moving sentences' rows and appends their
 * new ones, so the others keep theirs without any copy.
 */
export class TrackerState {
  readonly memory: StateMemory;
  readonly #current: Int32Array;
  #nextRow = 1;
  readonly #rows: Int32Array;
  readonly #movingExamples: Int32Array;
  readonly #movingRows: Int32Array;
  readonly #previous: Int32Array;

  constructor(
    readonly tracker: Tracker,
    readonly size: number,
    like: Tensor,
    readonly product: BatchedLinear,
    transitions: number,
  ) {
    this.memory = new StateMemory(1 + transitions, 2 * tracker.dTracker, {
      dtype: like.dtype,
      device: like.device,
    });
    this.#current = new Int32Array(size);
    this.#rows = new Int32Array(3 * size);
    this.#movingExamples = new Int32Array(size);
    this.#movingRows = new Int32Array(3 * size);
    this.#previous = new Int32Array(size);
  }

  /**
   * Where the tracker's h of the given sentences (all of them for null) is now, as a gather's
   * part: their current rows of the tracker's memory, columns [0, T).
   */
  hOf(examples: Int32Array | null): GatherPart {
    const rows = examples ? examples.map((i) => this.#current[i]!) : this.#current.slice();
    return { memory: this.memory, rows, group: 1, start: 0, count: this.tracker.dTracker };
  }

  /**
   * The tracker step: reads the h of [buffer top, stack top, stack second] and updates the state
   * of the sentences that move at this step only; the others keep theirs, so a result never
   * depends on the batch (and padding costs nothing).
   */
  step(memory: StateMemory, machine: StackMachine, moving: Uint8Array): void {
    const N = this.size;
    const H = this.tracker.dHidden;
    const T = this.tracker.dTracker;
    machine.trackerRows(this.#rows);
    let count = 0;
    for (let i = 0; i < N; i++) if (moving[i]) this.#movingExamples[count++] = i;
    if (count === 0) return;
    for (let j = 0; j < count; j++) {
      const i = this.#movingExamples[j]!;
      for (let k = 0; k < 3; k++) this.#movingRows[3 * j + k] = this.#rows[3 * i + k]!;
      this.#previous[j] = this.#current[i]!;
    }
    const previous = this.#previous.subarray(0, count);
    const moved = this.#movingRows.subarray(0, 3 * count);
    // LSTMCell.forward(x, hPrev, cPrev, product) inside the tracker's memory: the input [x | hPrev]
    // gathered in one call (the product keeps its row indices, not a copy), and the cell reading
    // cPrev from the previous rows and writing [h | c] to the new ones.
    const parts: GatherPart[] = [
      { memory, rows: moved, group: 3, start: 0, count: H },
      { memory: this.memory, rows: previous, group: 1, start: 0, count: T },
    ];
    const gates = this.product.forwardGathered(parts);
    const written = new Int32Array(count);
    for (let j = 0; j < count; j++) {
      written[j] = this.#nextRow++;
      this.#current[this.#movingExamples[j]!] = written[j]!;
    }
    this.memory.writeLstmCell(written, gates, previous);
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

/**
 * The transition decision of one pass (the paper's "transition", from the parser or from the
 * tracker's softmax): which sentences move at a step, then their actions once the tracker has
 * read the step. It keeps on the host what the policy terms are built from after the loop.
 */
interface Transitions {
  readonly steps: number;
  /** 1 for each sentence that takes a transition at this step, 0 for one already done. */
  moving(step: number): Uint8Array;
  /** The step's actions (SKIP for the sentences that do not move), before the machine applies them. */
  decide(step: number, tracker: TrackerState | null, machine: StackMachine): Uint8Array;
  trees(): FollowedTrees;
  policy(): PolicyTerms | undefined;
}

/** Follows the batch's transitions; a predicting tracker scores them (teacher forcing). */
class GivenTransitions implements Transitions {
  readonly #actions: Uint8Array;
  readonly #moving: Uint8Array;

  constructor(
    readonly given: Uint8Array,
    readonly steps: number,
    readonly size: number,
    readonly scorer: PolicyRecord | null,
  ) {
    this.#actions = new Uint8Array(size);
    this.#moving = new Uint8Array(size);
  }

  moving(step: number): Uint8Array {
    for (let i = 0; i < this.size; i++) {
      const action = this.given[i * this.steps + step]!;
      this.#actions[i] = action;
      this.#moving[i] = action === SKIP ? 0 : 1;
    }
    return this.#moving;
  }

  decide(step: number, tracker: TrackerState | null, machine: StackMachine): Uint8Array {
    this.scorer?.record(step, this.scorer.scores(tracker), this.#actions, this.#moving, machine);
    return this.#actions;
  }

  trees(): FollowedTrees {
    return { transitions: this.given.slice(), steps: this.steps };
  }

  policy(): PolicyTerms | undefined {
    return this.scorer?.terms(true);
  }
}

/**
 * The tracker's own transitions: the most probable valid action, or one drawn from the policy
 * with the pass's uniforms. One small host transfer (the N × 2 scores) per step.
 */
class PredictedTransitions implements Transitions {
  readonly steps: number;
  readonly #turns: Int32Array;
  readonly #actions: Uint8Array;
  readonly #moving: Uint8Array;
  readonly #followed: Uint8Array;

  constructor(
    lengths: Int32Array,
    readonly policyRecord: PolicyRecord,
    readonly draws: { draws: Float32Array; stride: number; index: Int32Array } | null,
  ) {
    const N = lengths.length;
    // Every sentence of n words takes 2n − 1 transitions, whatever its tree.
    this.#turns = lengths.map((n) => 2 * n - 1);
    this.steps = this.#turns.reduce((a, b) => Math.max(a, b), 0);
    this.#actions = new Uint8Array(N);
    this.#moving = new Uint8Array(N);
    this.#followed = new Uint8Array(N * this.steps).fill(SKIP);
  }

  moving(step: number): Uint8Array {
    for (let i = 0; i < this.#turns.length; i++) {
      this.#moving[i] = step < this.#turns[i]! ? 1 : 0;
      this.#actions[i] = SKIP;
    }
    return this.#moving;
  }

  decide(step: number, tracker: TrackerState | null, machine: StackMachine): Uint8Array {
    const N = this.#turns.length;
    const scores = this.policyRecord.scores(tracker);
    const host = scores.toFloat32Array();
    for (let i = 0; i < N; i++) {
      if (!this.#moving[i]) continue;
      const shift = host[2 * i]!;
      const reduce = host[2 * i + 1]!;
      const canShift = machine.canShift(i);
      const canReduce = machine.canReduce(i);
      const d = this.draws;
      this.#actions[i] = d
        ? sampleAction(shift, reduce, canShift, canReduce, d.draws[step * d.stride + d.index[i]!]!)
        : chooseAction(shift, reduce, canShift, canReduce);
      this.#followed[i * this.steps + step] = this.#actions[i]!;
    }
    this.policyRecord.record(step, scores, this.#actions, this.#moving, machine);
    return this.#actions;
  }

  trees(): FollowedTrees {
    return { transitions: this.#followed, steps: this.steps };
  }

  policy(): PolicyTerms | undefined {
    return this.policyRecord.terms(false);
  }
}

/**
 * A predicting tracker's scores through a pass (steps of N × 2) and, on the host, per step and
 * sentence: the action taken, whether it moved, and whether both actions were valid (a real
 * choice). The losses are built from them once per pass, after the loop.
 */
class PolicyRecord {
  readonly #scores: Tensor[] = [];
  /** The pass's scope, where the steps' scores are kept until the loop ends. */
  readonly #scope: Scope | null = currentScope();
  readonly #choices: Int32Array;
  readonly #moved: Float32Array;
  readonly #realChoice: Float32Array;

  constructor(
    readonly predictor: Linear,
    readonly steps: number,
    readonly size: number,
    readonly shard: BatchShard,
  ) {
    this.#choices = new Int32Array(steps * size);
    this.#moved = new Float32Array(steps * size);
    this.#realChoice = new Float32Array(steps * size);
  }

  /** SHIFT/REDUCE scores (N × 2) from the tracker's h at this step (read from its memory). */
  scores(tracker: TrackerState | null): Tensor {
    if (!tracker) throw new Error("predicting transitions needs a tracker");
    return this.predictor.forwardGathered([tracker.hOf(null)]);
  }

  /** Call before the machine applies the actions: validity is the state's before the step. */
  record(step: number, scores: Tensor, actions: Uint8Array, moving: Uint8Array, machine: StackMachine): void {
    this.#scores.push(adopt(scores, this.#scope));
    for (let i = 0; i < this.size; i++) {
      if (!moving[i]) continue;
      const k = step * this.size + i;
      this.#choices[k] = actions[i] === REDUCE ? 1 : 0;
      this.#moved[k] = 1;
      this.#realChoice[k] = machine.canShift(i) && machine.canReduce(i) ? 1 : 0;
    }
  }

  /** The policy terms; the transition loss only when the actions were given (teacher forcing). */
  terms(teacherForcing: boolean): PolicyTerms | undefined {
    if (this.#scores.length === 0) return undefined;
    const t = policyTerms(
      this.#scores,
      this.#choices,
      this.#moved,
      this.#realChoice,
      this.shard.globalTransitions,
    );
    return { logProb: t.logProb, entropy: t.entropy, transitionLoss: teacherForcing ? t.crossEntropy : null };
  }
}

export class SpinnEncoder implements SentenceEncoder {
  readonly reduce: Reduce;
  readonly tracker: Tracker | null;
  /**
   * Compose by tree level where nothing depends on the order of the transitions (no tracker,
   * given trees), in training as in evaluation (issue 16). False forces the step path, so that
   * tests and the benchmarks can compare the two; nothing else sets it.
   */
  byLevel = true;

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

  /** A predicting SPINN follows its own most probable parse unless told otherwise. */
  get defaultSource(): TransitionSource {
    return this.tracker?.transition ? "greedy" : "given";
  }

  /**
   * One pass over a batch, its transitions decided as `source` says: per step, the tracker reads
   * the stacks and buffers, the transitions are decided, the machine applies them, and the
   * sentences that REDUCE compose their two top states.
   */
  run(
    leaves: Tensor,
    batch: SentenceBatch,
    source: TransitionSource = this.defaultSource,
    shard = BatchShard.whole(batch.lengths, batch.size),
    keep?: KeptReduces,
  ): EncoderPass {
    const machine = new StackMachine(batch.lengths);
    const memory = new StateMemory(machine.rowCount, 2 * this.config.dHidden, {
      dtype: leaves.dtype,
      device: leaves.device,
    });
    memory.write(rowRange(0, machine.leafCount), leaves);
    const transitions = this.transitionsFor(batch, source, shard);
    const tracker = this.tracker?.start(batch.size, leaves, transitionCount(batch.lengths)) ?? null;
    // Every sentence of n words takes n − 1 compositions, whatever its tree.
    const composition = this.reduce.stepProduct(machine.leafCount - batch.size);
    const kept = keep ? new KeptRows(keep) : null;
    if (this.composesByLevel(source) && batch.transitions) {
      // The same compositions, the same rows, one level of the whole batch at a time.
      const levels = levelSchedule(machine, batch.transitions, batch.steps, (s, popped) =>
        kept?.note(s, popped),
      );
      for (const level of levels) scope(() => reduceStep(this.reduce, memory, level, null, composition));
    } else {
      // Each step in a scope of its own: its intermediates are freed as soon as it ends (what a
      // backward pass needs, autograd holds), so memory follows the state memory, not the steps.
      // The memories and the policy record keep what they need in this scope.
      for (let s = 0; s < transitions.steps; s++) {
        scope(() => {
          const moving = transitions.moving(s);
          tracker?.step(memory, machine, moving);
          const actions = transitions.decide(s, tracker, machine);
          const popped = machine.apply(actions, s);
          kept?.note(s, popped);
          reduceStep(this.reduce, memory, popped, tracker, composition);
        });
      }
    }
    assertSingleTrees(machine);
    const H = this.config.dHidden;
    const encoding = memory.read(machine.topRows()).narrow(1, 0, H);
    return {
      encoding,
      trees: transitions.trees(),
      policy: transitions.policy(),
      ...(kept ? { kept: memory.read(kept.rows()).narrow(1, 0, H) } : {}),
    };
  }

  /**
   * Whether a pass composes by tree level: only the given trees fix every composition in
   * advance, and only without a tracker does a composition read nothing but its children. The
   * backward pass is the step path's too (the state memory's row gradients, the cells' saved
   * rows, the pass-wide weight gradient): it only sees more rows per composition.
   */
  private composesByLevel(source: TransitionSource): boolean {
    return this.byLevel && !this.tracker && source === "given";
  }

  /** The decision of a pass from `source`, after checking that this encoder can make it. */
  private transitionsFor(batch: SentenceBatch, source: TransitionSource, shard: BatchShard): Transitions {
    const predictor = this.tracker?.transition ?? null;
    if (source === "given") {
      if (!batch.transitions) {
        throw new Error("this SPINN variant needs given transitions (parses) for every sentence");
      }
      const scorer = predictor ? new PolicyRecord(predictor, batch.steps, batch.size, shard) : null;
      return new GivenTransitions(batch.transitions, batch.steps, batch.size, scorer);
    }
    if (!predictor) throw new Error(`${source} transitions need an encoder that predicts transitions`);
    let steps = 0;
    for (const n of batch.lengths) steps = Math.max(steps, 2 * n - 1);
    const record = new PolicyRecord(predictor, steps, batch.size, shard);
    // Drawn for the shard's global batch, so a sentence's sample does not depend on the split.
    const draws = source === "sample" ? shard.transitionDraws() : null;
    return new PredictedTransitions(batch.lengths, record, draws);
  }
}

/** The state-memory rows of the REDUCEs a caller asked for, noted as the machine applies them. */
class KeptRows {
  readonly #rows: Int32Array;
  /** Per step, the entries of `keep` that REDUCE at it. */
  readonly #byStep = new Map<number, number[]>();

  constructor(readonly keep: KeptReduces) {
    this.#rows = new Int32Array(keep.step.length).fill(-1);
    keep.step.forEach((s, k) => {
      const list = this.#byStep.get(s) ?? [];
      list.push(k);
      this.#byStep.set(s, list);
    });
  }

  note(step: number, popped: ReduceStep): void {
    for (const k of this.#byStep.get(step) ?? []) {
      const at = popped.examples.indexOf(this.keep.sentence[k]!);
      if (at < 0) throw new Error(`sentence ${this.keep.sentence[k]} does not REDUCE at step ${step}`);
      this.#rows[k] = popped.out[at]!;
    }
  }

  rows(): Int32Array {
    const missing = this.#rows.indexOf(-1);
    if (missing >= 0) throw new Error(`kept REDUCE ${missing} (step ${this.keep.step[missing]}) never ran`);
    return this.#rows;
  }
}

/** Transitions of a batch in all: 2n − 1 for each sentence of n words. */
function transitionCount(lengths: Int32Array): number {
  let count = 0;
  for (const n of lengths) count += 2 * n - 1;
  return count;
}

function assertSingleTrees(machine: StackMachine): void {
  for (let i = 0; i < machine.size; i++) {
    if (!machine.isDone(i)) throw new Error(`sentence ${i} of the batch did not reduce to a single tree`);
  }
}

/**
 * From the per-step scores (steps of N × 2) and the host-side record of the actions: the
 * cross-entropy of the actions over active steps (teacher forcing), summed and divided by the
 * transitions of the global batch (all of a shard's global batch: see batch-shard.ts), and per sentence the
 * log-probability and entropy of the policy restricted to valid actions, which only the steps
 * with a real choice contribute to (a forced action has probability 1 and no entropy).
 */
function policyTerms(
  stepScores: Tensor[],
  choices: Int32Array,
  activeMask: Float32Array,
  choiceMask: Float32Array,
  globalTransitions: number,
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
          .div(globalTransitions)
      : null;
  const entropy = logp.exp().mul(logp).sum([2]).neg().mul(choice).sum([0]);
  return { crossEntropy, logProb: picked.mul(choice).sum([0]), entropy };
}

/** a[0], b[0], a[1], b[1], … */
export function interleave(a: ArrayLike<number>, b: ArrayLike<number>): Int32Array {
  const out = new Int32Array(2 * a.length);
  for (let k = 0; k < a.length; k++) {
    out[2 * k] = a[k]!;
    out[2 * k + 1] = b[k]!;
  }
  return out;
}
