// Keeps schedule_runs.state current: the leader polls the status service for
// every run whose task has not finished and copies state, duration, a small
// result summary and the error into the run record.
import type { StatusServiceClient, Task } from "@millrace/contracts";
import { GoneError, NotFoundError, call, errorMessage, isTerminal, stateName, type Clock, type Logger } from "@millrace/runtime";
import type { RunRow, ScheduleStore } from "./store";

const MAX_SUMMARY_KEYS = 20;
const MAX_STRING = 200;
const MAX_SUMMARY_BYTES = 2_048;
const TASK_GONE_AFTER_MS = 10 * 60_000;

function summarizeValue(v: unknown, depth: number): unknown {
  if (v === null || typeof v === "number" || typeof v === "boolean") return v;
  if (typeof v === "string") return v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…` : v;
  if (Array.isArray(v)) return { items: v.length };
  if (typeof v === "object" && depth < 1) return summarizeObject(v as Record<string, unknown>, depth + 1);
  return typeof v === "object" ? { keys: Object.keys(v as object).length } : String(v);
}

function summarizeObject(o: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o).slice(0, MAX_SUMMARY_KEYS)) out[k] = summarizeValue(v, depth);
  return out;
}

/**
 * A small JSON summary of a task result: scalars kept (long strings cut),
 * arrays reduced to their length, one level of nesting, at most ~2 KB.
 */
export function summarizeResult(resultJson: Uint8Array | undefined): Record<string, unknown> | null {
  if (!resultJson || resultJson.length === 0) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(resultJson).toString("utf8"));
  } catch {
    return { bytes: resultJson.length };
  }
  const summary = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? summarizeObject(parsed as Record<string, unknown>, 0) : { value: summarizeValue(parsed, 1) };
  return JSON.stringify(summary).length > MAX_SUMMARY_BYTES ? { truncated: true, keys: Object.keys(summary).slice(0, MAX_SUMMARY_KEYS) } : summary;
}

/** What a run records about its task. */
export function runUpdateFromTask(task: Task): { state: string; durationMs: number | null; resultSummary: Record<string, unknown> | null; error: string | null } {
  const started = task.startedAtMs || task.createdAtMs;
  return {
    state: stateName(task.state),
    durationMs: isTerminal(task.state) && task.finishedAtMs && started ? Math.max(0, task.finishedAtMs - started) : null,
    resultSummary: summarizeResult(task.resultJson),
    error: task.error ? `${task.error.type || "Error"}: ${task.error.message}` : null,
  };
}

export class RunWatch {
  constructor(
    private readonly store: ScheduleStore,
    private readonly status: StatusServiceClient,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** One pass over unfinished runs. Returns how many changed. */
  async poll(): Promise<number> {
    let changed = 0;
    for (const run of await this.store.openRuns()) {
      try {
        if (await this.refresh(run)) changed++;
      } catch (err) {
        this.logger.warn({ err: errorMessage(err), schedule: run.schedule, task_id: run.taskId }, "could not refresh scheduled run");
      }
    }
    return changed;
  }

  private async refresh(run: RunRow): Promise<boolean> {
    let task: Task;
    try {
      task = await call(this.status, this.status.getTask, { tenant: run.tenant, taskId: run.taskId }, 5_000, "status service");
    } catch (err) {
      // The task expired (410) before we saw it finish, or the status store lost it
      // (404, given a while in case we asked too early): its outcome is unknown.
      const gone = err instanceof GoneError;
      if (!gone && !(err instanceof NotFoundError)) throw err;
      if (!gone && this.clock.now() - run.updatedAtMs < TASK_GONE_AFTER_MS) return false;
      const error = gone ? "Gone: the task expired before its outcome was recorded" : "NotFound: the task no longer exists in the status service";
      await this.store.updateRun(run, { state: "FAILURE", durationMs: null, resultSummary: null, error }, this.clock.now());
      this.logger.warn({ schedule: run.schedule, task_id: run.taskId, error }, "scheduled run outcome unknown");
      return true;
    }
    const u = runUpdateFromTask(task);
    if (u.state === run.state && !isTerminal(task.state)) return false;
    await this.store.updateRun(run, u, this.clock.now());
    this.logger.info({ schedule: run.schedule, scheduled_for: new Date(run.scheduledForMs).toISOString(), task_id: run.taskId, state: u.state, duration_ms: u.durationMs }, "scheduled run state");
    return true;
  }
}
