// Progress for long jobs: a bar with rate, ETA, loss and accuracy on a terminal; nothing
// otherwise (logs and JSON lines carry the numbers there).
import cliProgress from "cli-progress";

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
