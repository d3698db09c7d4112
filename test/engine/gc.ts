// A full garbage collection for memory tests, then the turn in which Node-API runs the
// finalizers it found (they run on the event loop, not inside the collection).
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export async function fullGc(): Promise<void> {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  await new Promise((resolve) => setImmediate(resolve));
}
