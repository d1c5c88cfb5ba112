// Long CPU loops call checkpoint() between iterations: it throws when aborted
// and yields to the event loop every ~50 ms, so AbortSignals and progress
// messages are serviced even on the main thread.

import { throwIfAborted, type AbortLike } from "./errors";

export interface Checkpoint {
  (): Promise<void>;
}

export function createCheckpoint(signal: AbortLike | undefined, sliceMs = 50): Checkpoint {
  let last = performance.now();
  return async () => {
    throwIfAborted(signal);
    const now = performance.now();
    if (now - last >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      last = performance.now();
      throwIfAborted(signal);
    }
  };
}
