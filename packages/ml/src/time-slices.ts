/**
 * Runs `work` over rows [0, n) in slices of about `sliceMs` each, with the
 * event loop free between them, so long CPU work in a service's main thread
 * does not hold up its leases, health checks and other calls. `signal` is
 * checked before each slice. The first slice has `firstRows` rows; each next
 * one is sized from the last one's time (rows cost about the same), growing
 * at most 4×. For work that is a loop anyway (training epochs, trees), the
 * per-iteration createCheckpoint in cooperative.ts does the same job.
 */
export async function forEachTimeSlice(
  n: number,
  work: (start: number, end: number) => void,
  opts: { sliceMs: number; firstRows?: number; signal?: AbortSignal },
): Promise<void> {
  let step = Math.max(1, opts.firstRows ?? 1);
  for (let start = 0; start < n; ) {
    opts.signal?.throwIfAborted();
    const end = Math.min(n, start + step);
    const t0 = performance.now();
    work(start, end);
    const ms = performance.now() - t0;
    const took = end - start;
    step = Math.max(1, Math.min(took * 4, Math.floor((took * opts.sliceMs) / Math.max(ms, 0.001))));
    start = end;
    if (start < n) await new Promise<void>((r) => setImmediate(r));
  }
}
