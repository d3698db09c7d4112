// The offline rate shared by bench/serve.ts and bench/eval-rate.ts (through
// shipped-model-rate.ts) and bench/levels.ts: the library on 1,024 items, in calls of `perCall`
// consecutive items, after one warm-up pass, for about `seconds`.

/** Items per second of `run` over `items` repeated to 1,024, `perCall` items a call. */
export function itemsPerSecond<T>(
  items: readonly T[],
  perCall: number,
  seconds: number,
  run: (part: T[]) => void,
): number {
  const many = Array.from({ length: 1024 }, (_, i) => items[i % items.length]!);
  const once = () => {
    for (let at = 0; at < many.length; at += perCall) run(many.slice(at, at + perCall));
  };
  once(); // warm-up
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    once();
    done += many.length;
  }
  return done / ((performance.now() - start) / 1000);
}
