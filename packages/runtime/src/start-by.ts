// A job's start_by (Job.start_by_ms, from a submit's start_within_ms): one
// that reaches the process that would start it later than that is not run.
// The gateway and the scheduler set it, and workers,
// the orchestrator (workflows) and the reconciler decide and word it the same
// way, all through this module.
import { TaskState, type Job, type TaskError, type TaskEvent } from "@millrace/contracts";
import { isoTime } from "./iso-time";
import { jobEvent } from "./publish";

/** The start_by of a job created at `fromMs` that must start within `withinMs` (0 or absent: none). */
export function startByAt(fromMs: number, withinMs: number | undefined): number {
  return withinMs ? fromMs + withinMs : 0;
}

/** How late `job` is for its start_by at `nowMs`, or undefined when it has none or is in time. */
export function lateForStart(job: Pick<Job, "startByMs">, nowMs: number): number | undefined {
  const by = Number(job.startByMs);
  return by > 0 && nowMs > by ? nowMs - by : undefined;
}

/** The error a task ends REVOKED with when it missed its start_by. */
export function expiredError(job: Pick<Job, "startByMs">, lateMs: number): TaskError {
  return { type: "TaskExpired", message: `not started by ${isoTime(Number(job.startByMs))} (start_within_ms); received ${lateMs} ms after`, code: "EXPIRED", retryable: false };
}

/** The REVOKED event a process that is not the job's worker publishes for a job that missed its start_by. */
export function expiredEvent(job: Job, e: { lateMs: number; atMs: number; attempt: number; workerId: string }): TaskEvent {
  return jobEvent(job, { state: TaskState.REVOKED, attempt: e.attempt, seq: 1, atMs: e.atMs, error: expiredError(job, e.lateMs), workerId: e.workerId });
}
