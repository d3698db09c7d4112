// Continuous batching (issue 13): a SPINN batch that examples join and leave at any step, for a
// server under load. A fixed batch runs as many steps as its longest sentence takes, and its
// short sentences sit idle meanwhile; here every step moves every sentence in the batch, a
// sentence leaves the moment its tree is complete, and sentences that arrived meanwhile join at
// the next step. The maths are SpinnEncoder.run's, row by row, so an example's answer does not
// depend on what else is in the batch: with a tracker, a step is one transition (the tracker,
// the decision: given, or the tracker's greedy choice, and the REDUCEs); without one (SPINN-PI-NT
// on given trees), a step is one tree level, as the encoder's level path composes.
//
// Sentences live in one state memory whose rows are handed out and taken back one by one (a
// sentence's leaves and compositions need not be contiguous: every op takes row indices); the
// tracker keeps two rows per sentence, the state it reads and the one it writes. A model with a
// separate parser runs two such machines: the parser's (its own leaves and tracker, greedy), then
// the composer's along the trees it chose. Evaluation only (no gradients); encoders without
// transitions (LSTM, CBOW) are not supported.
import { encodeSentences } from "../data/batching.js";
import type { ParsedSentence } from "../data/transitions.js";
import { REDUCE, SHIFT } from "../data/transitions.js";
import type { Vocabulary } from "../data/vocabulary.js";
import {
  type BatchedLinear,
  currentScope,
  noGrad,
  StateMemory,
  scope,
  type Tensor,
} from "../engine/index.js";
import { rowRange } from "../models/encoder.js";
import { pairFeatures } from "../models/heads.js";
import type { LeafEmbedder } from "../models/leaves.js";
import type { Model } from "../models/model.js";
import { Parser } from "../models/parser.js";
import { chooseAction, interleave, SpinnEncoder, type Tracker } from "../models/spinn.js";

/** An example's answer: its class probabilities and, per sentence, the transitions followed. */
export interface RollingResult {
  probabilities: Float32Array;
  trees: Uint8Array[];
}

/** Why a model cannot run in a rolling batch, or null when it can: its encoder must be a SPINN. */
export function rollingUnsupported(model: Model): string | null {
  const encoder = model.encoder;
  if (!(encoder instanceof SpinnEncoder)) return `a ${model.config.encoder} encoder has no transition steps`;
  if (model.parser && !(model.parser instanceof Parser))
    return "its merge parser scores every pair of the whole sentence at each step (no transition steps)";
  return null;
}

/** Steps a finished example may wait for others to finish, so that the classifier runs on several. */
const CLASSIFY_WAIT_STEPS = 4;

/** The compositions of one tree level of a sentence: children's rows and the rows written. */
interface Level {
  left: number[];
  right: number[];
  out: number[];
}

interface Sentence {
  readonly n: number;
  /** The steps it takes: its transitions (2n − 1), or, without a tracker, its tree's levels. */
  readonly steps: number;
  /** The transitions to follow (2n − 1), or null when the tracker decides them. */
  readonly given: Uint8Array | null;
  readonly followed: Uint8Array;
  /** Without a tracker: its compositions level by level (the rows are taken when it joins). */
  readonly levels: Level[] | null;
  t: number;
  shifted: number;
  depth: number;
  /** The stack's rows, bottom-up (row 0 holds its encoding once done). */
  readonly stack: Int32Array;
  readonly leafRows: Int32Array;
  /** Rows its compositions wrote. */
  readonly composed: number[];
  /** The tracker's row with the current state, and the one the next state goes to (−1: none). */
  trackerRow: number;
  spareRow: number;
}

/** An example's sentences in one encoder, and what to call once they are all encoded. */
interface Group {
  readonly sentences: Sentence[];
  readonly done: (encoded: Sentence[]) => void;
}

/** An example whose sentences are encoded, waiting for the classifier. */
interface Finished {
  readonly encoded: Sentence[];
  readonly done: (result: RollingResult) => void;
  /** Steps it has waited. */
  waited: number;
}

/**
 * A sentence's compositions by tree level (a node's level: one more than its higher child's; a
 * leaf's 0), in the order SpinnEncoder's level path composes them (levelSchedule), each writing a
 * row taken from `take`. Returns the levels and the root's row. Not levelSchedule itself: that
 * runs a StackMachine, whose every step allocates its row lists, and per joining sentence that
 * made a rolling batch of ListOps expressions 18% slower (bench:eval-rate, rolling 32).
 */
function levelsOf(
  transitions: Uint8Array,
  leafRows: Int32Array,
  take: () => number,
): { levels: Level[]; root: number } {
  const levels: Level[] = [];
  const rows: number[] = [];
  const heights: number[] = [];
  let shifted = 0;
  for (const action of transitions) {
    if (action === SHIFT) {
      rows.push(leafRows[shifted++]!);
      heights.push(0);
      continue;
    }
    const right = rows.pop()!;
    const left = rows.pop()!;
    const height = Math.max(heights.pop()!, heights.pop()!) + 1;
    const out = take();
    if (levels.length < height) levels.push({ left: [], right: [], out: [] });
    const level = levels[height - 1]!;
    level.left.push(left);
    level.right.push(right);
    level.out.push(out);
    rows.push(out);
    heights.push(height);
  }
  return { levels, root: rows[0]! };
}

/** Rows of a state memory handed out one at a time; the memory doubles when none is free. */
class RowPool {
  memory: StateMemory;
  readonly #free: number[] = [];

  /** Rows [0, reserved) are never handed out (e.g. the zero row read for an empty slot). */
  constructor(
    rows: number,
    readonly width: number,
    reserved: number,
    readonly like: Tensor,
  ) {
    this.memory = this.#make(rows);
    this.#release(rowRange(reserved, rows));
  }

  /** Makes sure `count` rows can be taken without growing in between. */
  reserve(count: number): void {
    const rows = this.memory.rows;
    if (this.#free.length >= count) return;
    const grown = Math.max(2 * rows, rows + count - this.#free.length);
    const next = this.#make(grown);
    scope(() => next.write(rowRange(0, rows), this.memory.read(rowRange(0, rows))));
    this.memory.dispose();
    this.memory = next;
    this.#release(rowRange(rows, grown));
  }

  take(): number {
    const row = this.#free.pop();
    if (row === undefined) throw new Error("RowPool: no free row (reserve first)");
    return row;
  }

  give(rows: ArrayLike<number>): void {
    this.#release(rows);
  }

  #release(rows: ArrayLike<number>): void {
    // Pushed high to low, so that low rows are taken first.
    for (let k = rows.length - 1; k >= 0; k--) this.#free.push(rows[k]!);
  }

  #make(rows: number): StateMemory {
    return new StateMemory(rows, this.width, { dtype: this.like.dtype, device: this.like.device }).keep();
  }
}

/**
 * The step machine of one SPINN encoder and its leaf pipeline: sentences join, take one step each
 * per step(), and are handed back (their rows still held) once every sentence of their group is
 * done; release() returns their rows.
 */
class RollingEncoder {
  readonly #leaves: LeafEmbedder;
  readonly #vocab: Vocabulary;
  readonly #tracker: Tracker | null;
  readonly #H: number;
  readonly #T: number;
  /** Leaves and compositions ([h | c], 2H); row 0 is the zero state of an empty slot. */
  readonly #states: RowPool;
  /** The tracker's states ([h | c], 2T), two rows per sentence. */
  readonly #trackerStates: RowPool | null;
  readonly #composition: BatchedLinear;
  readonly #trackerProduct: BatchedLinear | null;
  /** The tensors the products were made with (their side-by-side weights), freed by dispose(). */
  readonly #productTensors: Tensor[];
  #waiting: { sentences: ParsedSentence[]; done: Group["done"] }[] = [];
  #groups: Group[] = [];

  constructor(leaves: LeafEmbedder, encoder: SpinnEncoder, vocab: Vocabulary, initialRows: number) {
    this.#leaves = leaves;
    this.#vocab = vocab;
    const tracker = encoder.tracker;
    this.#tracker = tracker;
    this.#H = encoder.config.dHidden;
    this.#T = tracker?.dTracker ?? 0;
    const like = leaves.embed;
    this.#states = new RowPool(initialRows, 2 * this.#H, 1, like);
    this.#trackerStates = tracker ? new RowPool(initialRows, 2 * this.#T, 1, like) : null;
    // Without gradients a product keeps nothing per step, so its row bound does not matter. The
    // tensors made here are returned from the scope, so they outlive it, until dispose().
    let products: (BatchedLinear | null)[] = [];
    this.#productTensors = noGrad(() =>
      scope(() => {
        products = [encoder.reduce.stepProduct(1), tracker?.cell.stepProduct(1) ?? null];
        return [...(currentScope()!.tracked as Tensor[])];
      }),
    );
    this.#composition = products[0]!;
    this.#trackerProduct = products[1]!;
  }

  /** Whether the tracker decides the transitions (else each sentence brings them). */
  get decides(): boolean {
    return this.#tracker?.transition != null;
  }

  /** Groups in it or waiting to join it. */
  get size(): number {
    return this.#groups.length + this.#waiting.length;
  }

  /** The memory holding the sentences' states (a done sentence's encoding: row stack[0]). */
  get states(): StateMemory {
    return this.#states.memory;
  }

  get dHidden(): number {
    return this.#H;
  }

  /** Sentences that join at the next step; `done` gets them once all are encoded. */
  add(sentences: ParsedSentence[], done: Group["done"]): void {
    this.#waiting.push({ sentences, done });
  }

  /**
   * The waiting sentences join, every sentence still encoding takes one step (a transition, or
   * without a tracker a tree level), and the groups now complete are handed back. Returns whether
   * any sentence moved.
   */
  step(): boolean {
    this.#admit();
    const moving = this.#groups.flatMap((g) => g.sentences.filter((s) => s.t < s.steps));
    if (moving.length > 0) {
      if (this.#tracker) this.#transition(moving);
      else this.#level(moving);
    }
    const encoding: Group[] = [];
    const complete: Group[] = [];
    for (const g of this.#groups) (g.sentences.every((s) => s.t === s.steps) ? complete : encoding).push(g);
    this.#groups = encoding;
    for (const g of complete) g.done(g.sentences);
    return moving.length > 0;
  }

  /** Gives back the rows of sentences it handed back. */
  release(sentences: Sentence[]): void {
    for (const s of sentences) {
      this.#states.give(s.leafRows);
      this.#states.give(s.composed);
      this.#trackerStates?.give([s.trackerRow, s.spareRow]);
    }
  }

  /** Frees its native memory (the model's parameters are the model's). */
  dispose(): void {
    this.#states.memory.dispose();
    this.#trackerStates?.memory.dispose();
    for (const t of this.#productTensors) t.dispose();
  }

  #admit(): void {
    if (this.#waiting.length === 0) return;
    const joining = this.#waiting;
    this.#waiting = [];
    const all = joining.flatMap((j) => j.sentences);
    let leaves = 0;
    for (const s of all) leaves += s.tokens.length;
    // Leaves, and without a tracker every composition (n − 1 per sentence) now.
    this.#states.reserve(this.#tracker ? leaves : 2 * leaves);
    this.#trackerStates?.reserve(2 * all.length);
    const rows = new Int32Array(leaves);
    let at = 0;
    const decides = this.decides;
    const made = all.map((s): Sentence => {
      const n = s.tokens.length;
      const leafRows = rows.subarray(at, at + n);
      for (let j = 0; j < n; j++) leafRows[j] = this.#states.take();
      at += n;
      const given = decides ? null : s.transitions!.subarray(0, 2 * n - 1);
      const composed: number[] = [];
      // Without a tracker, every composition's row is taken now, level by level.
      const byLevel = this.#tracker
        ? null
        : levelsOf(given!, leafRows, () => {
            const row = this.#states.take();
            composed.push(row);
            return row;
          });
      const stack = new Int32Array(n);
      if (byLevel) stack[0] = byLevel.root;
      return {
        n,
        steps: byLevel ? byLevel.levels.length : 2 * n - 1,
        given,
        followed: given ?? new Uint8Array(2 * n - 1),
        levels: byLevel?.levels ?? null,
        t: 0,
        shifted: 0,
        depth: 0,
        stack,
        leafRows,
        composed,
        trackerRow: this.#trackerStates?.take() ?? -1,
        spareRow: this.#trackerStates?.take() ?? -1,
      };
    });
    scope(() => {
      // The leaf pipeline is row by row in evaluation (its batch norm uses running statistics).
      const batch = encodeSentences(all, this.#vocab);
      this.#states.memory.write(rows, this.#leaves.forward(batch, false));
      // Each sentence's tracker starts from the zero state.
      const tracker = this.#trackerStates?.memory;
      const starts = Int32Array.from(made, (s) => s.trackerRow);
      tracker?.write(starts, tracker.read(new Int32Array(starts.length)));
    });
    let k = 0;
    for (const j of joining) {
      const sentences = made.slice(k, k + j.sentences.length);
      k += j.sentences.length;
      this.#groups.push({ sentences, done: j.done });
    }
  }

  /** One transition of each moving sentence: tracker, decision, REDUCE. */
  #transition(moving: Sentence[]): void {
    const R = moving.length;
    // A REDUCE writes one new row per sentence at most.
    this.#states.reserve(R);
    const states = this.#states.memory;
    const trackerStates = this.#trackerStates!.memory;
    scope(() => {
      // The tracker reads [buffer top, stack top, stack second] and its previous state.
      const read = new Int32Array(3 * R);
      const previous = new Int32Array(R);
      const written = new Int32Array(R);
      moving.forEach((s, j) => {
        read[3 * j] = s.shifted < s.n ? s.leafRows[s.shifted]! : 0;
        read[3 * j + 1] = s.depth >= 1 ? s.stack[s.depth - 1]! : 0;
        read[3 * j + 2] = s.depth >= 2 ? s.stack[s.depth - 2]! : 0;
        previous[j] = s.trackerRow;
        written[j] = s.spareRow;
        s.spareRow = s.trackerRow;
        s.trackerRow = written[j]!;
      });
      const gates = this.#trackerProduct!.forwardGathered([
        { memory: states, rows: read, group: 3, start: 0, count: this.#H },
        { memory: trackerStates, rows: previous, group: 1, start: 0, count: this.#T },
      ]);
      trackerStates.writeLstmCell(written, gates, previous);
      const actions = this.#decide(moving, written, trackerStates);
      // The machine: SHIFT pushes the next leaf, REDUCE pops two and pushes their composition.
      const reducing: Sentence[] = [];
      const left: number[] = [];
      const right: number[] = [];
      const out: number[] = [];
      moving.forEach((s, j) => {
        const action = actions[j]!;
        if (!s.given) s.followed[s.t] = action;
        s.t++;
        if (action === SHIFT) {
          s.stack[s.depth++] = s.leafRows[s.shifted++]!;
        } else {
          const row = this.#states.take();
          reducing.push(s);
          left.push(s.stack[s.depth - 2]!);
          right.push(s.stack[s.depth - 1]!);
          out.push(row);
          s.composed.push(row);
          s.stack[--s.depth - 1] = row;
        }
      });
      if (reducing.length === 0) return;
      const compositionGates = this.#composition.forwardGathered([
        { memory: states, rows: interleave(left, right), group: 2, start: 0, count: this.#H },
        {
          memory: trackerStates,
          rows: Int32Array.from(reducing, (s) => s.trackerRow),
          group: 1,
          start: 0,
          count: this.#T,
        },
      ]);
      states.writeTreeLstmCell(
        Int32Array.from(out),
        compositionGates,
        Int32Array.from(left),
        Int32Array.from(right),
      );
    });
  }

  /** One tree level of each moving sentence: its compositions at that level, one product for all. */
  #level(moving: Sentence[]): void {
    const left: number[] = [];
    const right: number[] = [];
    const out: number[] = [];
    for (const s of moving) {
      const level = s.levels![s.t++]!;
      left.push(...level.left);
      right.push(...level.right);
      out.push(...level.out);
    }
    const states = this.#states.memory;
    scope(() => {
      const gates = this.#composition.forwardGathered([
        { memory: states, rows: interleave(left, right), group: 2, start: 0, count: this.#H },
      ]);
      states.writeTreeLstmCell(Int32Array.from(out), gates, Int32Array.from(left), Int32Array.from(right));
    });
  }

  /**
   * The step's actions: the given trees', or the tracker's most probable valid ones (one small
   * host transfer: the moving sentences' two scores), as SpinnEncoder's greedy pass decides.
   */
  #decide(moving: Sentence[], trackerRows: Int32Array, trackerStates: StateMemory): Uint8Array {
    const actions = new Uint8Array(moving.length);
    const predictor = this.#tracker!.transition;
    if (!predictor) {
      moving.forEach((s, j) => {
        actions[j] = s.given![s.t]!;
      });
    } else {
      const scores = predictor
        .forwardGathered([{ memory: trackerStates, rows: trackerRows, group: 1, start: 0, count: this.#T }])
        .toFloat32Array();
      moving.forEach((s, j) => {
        actions[j] = chooseAction(scores[2 * j]!, scores[2 * j + 1]!, s.shifted < s.n, s.depth >= 2);
      });
    }
    moving.forEach((s, j) => {
      const a = actions[j];
      if (a === REDUCE ? s.depth < 2 : a !== SHIFT || s.shifted >= s.n)
        throw new Error(`transition ${s.t} of a sentence is not valid in its state (${a})`);
    });
    return actions;
  }
}

/**
 * The rolling batch of a model: its encoder's machine, and for a model with a separate parser the
 * parser's machine before it (a sentence joins the composer, along the tree the parser chose,
 * at the step the parser finishes its example), then the classifier for the finished examples.
 */
export class RollingBatch {
  readonly #model: Model;
  readonly #parser: RollingEncoder | null;
  readonly #composer: RollingEncoder;
  #finished: Finished[] = [];
  /** Examples added and not answered yet. */
  #pending = 0;
  /** Steps in which a sentence moved, and examples in the batch summed over them (the mean batch). */
  steps = 0;
  exampleSteps = 0;

  constructor(model: Model, vocab: Vocabulary, initialRows = 4096) {
    const why = rollingUnsupported(model);
    if (why !== null) throw new Error(`this model cannot run in a rolling batch: ${why}`);
    this.#model = model;
    this.#parser =
      model.parser instanceof Parser
        ? new RollingEncoder(model.parser.leaves, model.parser.encoder, vocab, initialRows)
        : null;
    this.#composer = new RollingEncoder(model.leaves, model.encoder as SpinnEncoder, vocab, initialRows);
  }

  /** Examples in the batch or waiting to join it. */
  get size(): number {
    return this.#pending;
  }

  /**
   * Adds an example (its sentence, or its premise and hypothesis) to join at the next step;
   * `done` is called with its answer from a later step(). Sentences without a parse need a model
   * that parses.
   */
  add(sentences: ParsedSentence[], done: Finished["done"]): void {
    const sides = this.#model.config.task === "nli" ? 2 : 1;
    if (sentences.length !== sides)
      throw new RangeError(`an example of this model has ${sides} sentence(s), got ${sentences.length}`);
    const parses = this.#parser !== null || this.#composer.decides;
    for (const s of sentences) {
      if (s.tokens.length < 1) throw new RangeError("every sentence needs at least one token");
      if (!parses && !s.transitions) throw new Error("this model composes along given trees: give the parse");
    }
    this.#pending++;
    const compose = (along: ParsedSentence[]) =>
      this.#composer.add(along, (encoded) => this.#finished.push({ encoded, done, waited: 0 }));
    const parser = this.#parser;
    if (!parser) {
      compose(sentences);
      return;
    }
    parser.add(
      sentences.map((s) => ({ tokens: s.tokens, transitions: null })),
      (parsed) => {
        parser.release(parsed);
        compose(sentences.map((s, k) => ({ tokens: s.tokens, transitions: parsed[k]!.followed })));
      },
    );
  }

  /**
   * The waiting examples join, every sentence still encoding takes one step (a transition, or
   * without a tracker a tree level), finished examples are answered.
   */
  step(): void {
    noGrad(() => {
      const size = this.#pending;
      const parsed = this.#parser?.step() ?? false;
      const composed = this.#composer.step();
      if (parsed || composed) {
        this.steps++;
        this.exampleSteps += size;
      }
      this.#answer();
    });
  }

  /** Frees its native memory (the model's parameters are the model's). */
  dispose(): void {
    this.#parser?.dispose();
    this.#composer.dispose();
  }

  /**
   * The classifier for the finished examples, once one of them has waited CLASSIFY_WAIT_STEPS
   * steps or nothing else is encoding: one head pass for several examples.
   */
  #answer(): void {
    const finished = this.#finished;
    if (finished.length === 0) return;
    const encoding = this.#pending > finished.length;
    if (encoding && !finished.some((f) => f.waited >= CLASSIFY_WAIT_STEPS)) {
      for (const f of finished) f.waited++;
      return;
    }
    this.#finished = [];
    const composer = this.#composer;
    const probabilities = scope(() => {
      const top = (side: number) =>
        composer.states
          .read(Int32Array.from(finished, (f) => f.encoded[side]!.stack[0]!))
          .narrow(1, 0, composer.dHidden);
      const features = finished[0]!.encoded.length === 2 ? pairFeatures(top(0), top(1)) : top(0);
      return this.#model.head.forward(features, false).softmax(1).toFloat32Array();
    });
    const classes = this.#model.config.classes;
    this.#pending -= finished.length;
    finished.forEach((f, k) => {
      composer.release(f.encoded);
      f.done({
        probabilities: probabilities.slice(k * classes, (k + 1) * classes),
        trees: f.encoded.map((s) => s.followed),
      });
    });
  }
}
