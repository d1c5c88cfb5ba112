// A job's start_by (Job.start_by_ms, from a submit's start_within_ms): one
// that reaches the process that would start it later than that is not run.
// Workers (packages/worker) and the status service's orchestrator (workflows)
// decide and word it the same way.
import type { Job, TaskError } from "@millrace/contracts";
import { isoTime } from "./iso-time";

/** How late `job` is for its start_by at `nowMs`, or undefined when it has none or is in time. */
export function lateForStart(job: Pick<Job, "startByMs">, nowMs: number): number | undefined {
  const by = Number(job.startByMs);
  return by > 0 && nowMs > by ? nowMs - by : undefined;
}

/** The error a task ends REVOKED with when it missed its start_by. */
export function expiredError(job: Pick<Job, "startByMs">, lateMs: number): TaskError {
  return { type: "TaskExpired", message: `not started by ${isoTime(Number(job.startByMs))} (start_within_ms); received ${lateMs} ms after`, code: "EXPIRED", retryable: false };
}
