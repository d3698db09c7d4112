// Baseline encoders over the same leaves: LSTM and BiLSTM (final states) and CBOW (mean of the
// leaf states). The recurrent ones read their inputs from a StateMemory so that per-step gathers
// keep sparse gradients, and padded steps leave an example's state untouched.
import type { SentenceBatch } from "../data/batching.js";
import {
  cat,
  LSTMCell,
  type ParamPath,
  StateMemory,
  type Tensor,
  tensor,
  where,
  zeros,
} from "../engine/index.js";
import { type EncoderPass, rowRange, type SentenceEncoder } from "./encoder.js";
import { StackMachine } from "./stack-machine.js";

/** Runs an LSTM over each sentence (forwards or backwards) and returns the final h. */
function runLstm(
  cell: LSTMCell,
  memory: StateMemory,
  layout: StackMachine,
  reverse: boolean,
  like: Tensor,
): Tensor {
  const N = layout.size;
  let maxLen = 0;
  for (let i = 0; i < N; i++) maxLen = Math.max(maxLen, layout.lengths[i]!);
  let h = zeros([N, cell.hiddenSize], { dtype: like.dtype, device: like.device });
  let c = h;
  const product = cell.stepProduct(N * maxLen);
  const rows = new Int32Array(N);
  const active = new Uint8Array(N);
  for (let t = 0; t < maxLen; t++) {
    let all = true;
    for (let i = 0; i < N; i++) {
      const n = layout.lengths[i]!;
      const on = t < n;
      active[i] = on ? 1 : 0;
      all &&= on;
      rows[i] = on ? layout.leafOffset[i]! + (reverse ? n - 1 - t : t) : layout.nullRow;
    }
    const next = cell.forward(memory.read(rows), h, c, product);
    if (all) {
      h = next.h;
      c = next.c;
    } else {
      const mask = tensor(active, { dtype: "bool", device: like.device }).unsqueeze(1);
      h = where(mask, next.h, h);
      c = where(mask, next.c, c);
    }
  }
  return h;
}

function leafMemory(leaves: Tensor, layout: StackMachine): StateMemory {
  const memory = new StateMemory(layout.leafCount + 1, leaves.size(1), {
    dtype: leaves.dtype,
    device: leaves.device,
  });
  memory.write(rowRange(0, layout.leafCount), leaves);
  return memory;
}

export class LstmEncoder implements SentenceEncoder {
  readonly forwardCell: LSTMCell;
  readonly backwardCell: LSTMCell | null;

  constructor(path: ParamPath, dHidden: number, bidirectional: boolean) {
    this.forwardCell = new LSTMCell(path.sub("lstm"), 2 * dHidden, dHidden);
    this.backwardCell = bidirectional ? new LSTMCell(path.sub("lstm_reverse"), 2 * dHidden, dHidden) : null;
  }

  get outputSize(): number {
    return this.forwardCell.hiddenSize * (this.backwardCell ? 2 : 1);
  }

  /** The final h of each sentence (forwards, then backwards); no trees, so no transition source. */
  run(leaves: Tensor, batch: SentenceBatch): EncoderPass {
    const layout = new StackMachine(batch.lengths);
    const memory = leafMemory(leaves, layout);
    const fwd = runLstm(this.forwardCell, memory, layout, false, leaves);
    if (!this.backwardCell) return { encoding: fwd };
    return { encoding: cat([fwd, runLstm(this.backwardCell, memory, layout, true, leaves)], 1) };
  }
}

/** Continuous bag of words: the mean of each sentence's leaf states. */
export class CbowEncoder implements SentenceEncoder {
  constructor(readonly dHidden: number) {}

  get outputSize(): number {
    return 2 * this.dHidden;
  }

  /** The mean leaf state of each sentence; no trees, so no transition source. */
  run(leaves: Tensor, batch: SentenceBatch): EncoderPass {
    const segment = new Int32Array(leaves.size(0));
    const inverseLength = new Float64Array(batch.size);
    let k = 0;
    for (let i = 0; i < batch.size; i++) {
      const n = batch.lengths[i]!;
      segment.fill(i, k, k + n);
      k += n;
      inverseLength[i] = 1 / n;
    }
    const sums = zeros([batch.size, leaves.size(1)], { dtype: leaves.dtype, device: leaves.device }).indexAdd(
      0,
      tensor(segment, { device: leaves.device }),
      leaves,
    );
    const scale = tensor(inverseLength, { dtype: leaves.dtype, device: leaves.device }).unsqueeze(1);
    return { encoding: sums.mul(scale) };
  }
}
