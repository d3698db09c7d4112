// A model worker that goes idle gives back what a burst made it hold: its rolling batch's state
// memory, which grows to the largest load and would otherwise stay at that size.
import assert from "node:assert/strict";
import { test } from "node:test";
import { metric, post, startServer } from "./helpers.js";

/** A flat list of `n` digits: 2n + 1 state rows in the rolling batch (n + 2 leaves, n + 1 merges). */
function longExpression(n: number, seed: number): string {
  const digits = Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10);
  return `[MAX ${digits.join(" ")} ]`;
}

test("after a burst of long expressions, an idle worker's live native memory returns to what it was before", async () => {
  const s = await startServer(["listops-pi"], { workers: 1 });
  try {
    await post(`${s.url}/v1/predict`, { inputs: { expression: "[MIN 3 5 ]" } });
    const before = await metric(s.url, "spinn_native_live_bytes");
    const inputs = Array.from({ length: 64 }, (_, k) => ({ expression: longExpression(400, k) }));
    const answer = await post(`${s.url}/v1/predict`, { inputs });
    assert.equal(answer.status, 200);
    const grown = await metric(s.url, "spinn_native_live_bytes");
    assert.ok(grown > before, `the burst grows the rolling batch's memory (${before} → ${grown} bytes)`);
    // The worker releases a second after its last work; poll for up to 15 s.
    let after = grown;
    for (let waited = 0; waited < 15_000 && after !== before; waited += 250) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = await metric(s.url, "spinn_native_live_bytes");
    }
    assert.equal(after, before, `live native bytes after the worker idled (${grown} after the burst)`);
    const again = await post(`${s.url}/v1/predict`, { inputs: { expression: "[MAX 3 5 ]" } });
    assert.deepEqual((again.body.predictions as { label: string }[])[0]!.label, "5");
  } finally {
    await s.app.close();
  }
});
