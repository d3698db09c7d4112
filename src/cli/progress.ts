// Progress for long jobs: a bar with rate, ETA, loss and accuracy on a terminal; nothing
// otherwise (logs and JSON lines carry the numbers there).
import cliProgress from "cli-progress";
import type { StepReport } from "../training/trainer.js";

export interface Progress {
  start(total: number, label: string): void;
  update(done: number, values: Record<string, string>): void;
  stop(): void;
  /** Prints a line without breaking the bar. */
  log(line: string): void;
}

export function makeProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled || !stream.isTTY) {
    return { start() {}, update() {}, stop() {}, log: (line) => stream.write(`${line}\n`) };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: "{label} {bar} {value}/{total} | {rate}/s | ETA {eta_formatted} | loss {loss} | acc {acc}",
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let active = false;
  return {
    start(total, label) {
      bar.start(total, 0, { label, rate: "-", loss: "-", acc: "-" });
      active = true;
    },
    update(done, values) {
      bar.update(done, values);
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
    log(line) {
      if (active) {
        stream.write("\r\x1b[2K");
        stream.write(`${line}\n`);
        bar.render();
      } else stream.write(`${line}\n`);
    },
  };
}

/** A step handler for the trainer that shows one bar per epoch. */
export function epochBars(progress: Progress, epochs: number): (r: StepReport) => void {
  let shown = -1;
  return (r) => {
    if (r.epoch !== shown) {
      progress.stop();
      progress.start(r.batchesInEpoch, `epoch ${r.epoch + 1}/${epochs}`);
      shown = r.epoch;
    }
    progress.update(r.batchInEpoch, {
      rate: r.examplesPerSecond.toFixed(0),
      loss: r.loss.toFixed(4),
      acc: `${(100 * r.accuracy).toFixed(1)}%`,
    });
  };
}
