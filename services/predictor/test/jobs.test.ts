// The explain job's glue: its abort signal follows cancel and the hard time limit,
// and its progress is reported at most once a second (by the injected clock).
import { describe, expect, it } from "vitest";
import type { Job, Progress } from "@millrace/contracts";
import { createLogger, ManualClock } from "@millrace/runtime";
import type { JobContext } from "@millrace/worker";
import type { ExplainOptions } from "@millrace/ml";
import { jobHandlers, type JobServing } from "../src/jobs";

function explainCtx(signal: AbortSignal) {
  const hardStops: Array<() => void> = [];
  const progress: Partial<Progress>[] = [];
  const ctx = {
    job: { taskId: "t1", tenant: "acme", payload: { $case: "explain", value: { model: "m", instancesJson: Buffer.from("[{}]") } } } as unknown as Job,
    attempt: 1,
    timeLimits: { softMs: 0, hardMs: 1_000 },
    signal,
    logger: createLogger("predictor-test", "silent"),
    progress: async (p: Partial<Progress>) => void progress.push(p),
    onHardStop: (fn: () => void) => void hardStops.push(fn),
  } satisfies JobContext;
  return { ctx, hardStops, progress };
}

/** A Serving whose explain hands its options to the test and waits to be released. */
function servingSpy() {
  let seen!: ExplainOptions;
  let release!: () => void;
  let started!: () => void;
  const called = new Promise<void>((r) => (started = r));
  const serving: JobServing = {
    predict: async () => ({}) as never,
    explain: async (_t, _m, _i, opts = {}) => {
      seen = opts;
      started();
      await new Promise<void>((r) => (release = r));
      return { model: { name: "m", version: 1 }, explanations: [], method: "tree_shap" };
    },
  };
  return { serving, called, opts: () => seen, release: () => release() };
}

describe("explain job handler", () => {
  it("aborts the explanation at the hard time limit, and on cancel", async () => {
    for (const how of ["hard limit", "cancel"] as const) {
      const cancel = new AbortController();
      const s = servingSpy();
      const { ctx, hardStops } = explainCtx(cancel.signal);
      const run = jobHandlers(s.serving, new ManualClock(0)).explain(ctx);
      await s.called;
      expect(s.opts().signal!.aborted).toBe(false);
      if (how === "hard limit") {
        expect(hardStops).toHaveLength(1);
        hardStops[0]();
      } else cancel.abort(new Error("cancelled"));
      expect(s.opts().signal!.aborted, how).toBe(true);
      s.release();
      await run;
    }
  });

  it("reports progress at most once a second of the injected clock, and not for the last slice", async () => {
    const clock = new ManualClock(0);
    const s = servingSpy();
    const { ctx, progress } = explainCtx(new AbortController().signal);
    const run = jobHandlers(s.serving, clock).explain(ctx);
    await s.called;
    const report = s.opts().onProgress!;
    report(10, 100); // within the first second: nothing
    clock.advance(1_000);
    report(40, 100);
    report(50, 100); // same instant: nothing
    clock.advance(1_000);
    report(100, 100); // done: the outcome says so
    expect(progress).toEqual([{ percent: 40, message: "explained 40 of 100 rows" }]);
    s.release();
    await run;
  });
});
