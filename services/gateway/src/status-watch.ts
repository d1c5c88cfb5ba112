// Following one task through the status service's WatchTask stream: the
// current row first, then each change, ending at a terminal state.
import type { StatusServiceClient, Task } from "@millrace/contracts";
import { fromServiceError, grpc, isTerminal } from "@millrace/runtime";
import { batcherFor } from "./status-batch";

export interface WatchOptions {
  /** Stop following after this long (the last row seen is the answer). */
  timeoutMs: number;
  /** Stop when any of these aborts (client went away, gateway draining). */
  signals?: AbortSignal[];
  /** Start with the task's stored transitions (event streams), not just its current row. */
  history?: boolean;
}

/**
 * Yields every row the status service sends until the task is terminal, the
 * stream ends, the timeout passes or the signal aborts. Unknown → NotFoundError,
 * expired → GoneError (typed by fromServiceError).
 */
export async function* watchTask(status: StatusServiceClient, tenant: string, taskId: string, opts: WatchOptions): AsyncGenerator<Task> {
  const signals = opts.signals ?? [];
  if (signals.some((s) => s.aborted)) return;
  const stream = status.watchTask({ tenant, taskId, history: opts.history ?? false }, { deadline: Date.now() + opts.timeoutMs });
  const onAbort = () => stream.cancel();
  // Listeners on each signal, removed below (AbortSignal.any on a long-lived
  // signal would keep every dependent alive).
  for (const s of signals) s.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const t of stream as AsyncIterable<Task>) {
      yield t;
      if (isTerminal(t.state)) return;
    }
  } catch (err) {
    const code = (err as grpc.ServiceError).code;
    if (code === grpc.status.CANCELLED || code === grpc.status.DEADLINE_EXCEEDED) return;
    throw fromServiceError(err as grpc.ServiceError, "status");
  } finally {
    for (const s of signals) s.removeEventListener("abort", onAbort);
    stream.cancel();
  }
}

export function getTask(status: StatusServiceClient, tenant: string, taskId: string): Promise<Task> {
  return batcherFor(status).getTask(tenant, taskId);
}

/** The task once terminal, or its latest row when the wait ran out first. */
export async function waitForTerminal(status: StatusServiceClient, tenant: string, taskId: string, opts: WatchOptions): Promise<Task> {
  let last: Task | undefined;
  for await (const t of watchTask(status, tenant, taskId, opts)) last = t;
  return last ?? getTask(status, tenant, taskId);
}
