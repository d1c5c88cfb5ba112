// The predictor's job handlers: predict and explain jobs from the queue.
import { ValidationError, type Clock } from "@millrace/runtime";
import type { JobHandler } from "@millrace/worker";
import type { Serving } from "./serving";

/** An explain job reports its progress at most this often. */
export const EXPLAIN_PROGRESS_EVERY_MS = 1_000;

/** What the handlers need of Serving (tests pass their own). */
export type JobServing = Pick<Serving, "predict" | "explain">;

export function jobHandlers(serving: JobServing, clock: Clock): Record<"predict" | "explain", JobHandler> {
  return {
    predict: async (ctx) => {
      const p = ctx.job.payload;
      if (p?.$case !== "predict") throw new ValidationError("predict job without a predict payload", { field: "payload" });
      return serving.predict(ctx.job.tenant, p.value.model, p.value.instancesJson);
    },
    explain: async (ctx) => {
      const p = ctx.job.payload;
      if (p?.$case !== "explain") throw new ValidationError("explain job without an explain payload", { field: "payload" });
      // A long explanation reports how far it got (at most once a second) and
      // stops between slices on cancel, either time limit or shutdown. The
      // worker can only terminate training threads, so the hard limit is
      // turned into an abort here.
      const hardStop = new AbortController();
      ctx.onHardStop(() => hardStop.abort(new Error("hard time limit")));
      let reportedAt = clock.now();
      return serving.explain(ctx.job.tenant, p.value.model, p.value.instancesJson, {
        signal: AbortSignal.any([ctx.signal, hardStop.signal]),
        onProgress: (done, total) => {
          if (done === total || clock.now() - reportedAt < EXPLAIN_PROGRESS_EVERY_MS) return;
          reportedAt = clock.now();
          void ctx.progress({ percent: Math.floor((100 * done) / total), message: `explained ${done} of ${total} rows` }).catch(() => undefined);
        },
      });
    },
  };
}
