import { Job } from "@millrace/contracts";
import type { Pool, PoolClient } from "@millrace/runtime";

// The columns a PENDING row sets; the projection fills in the rest as events arrive.
const COLUMNS =
  "task_id, tenant, kind, queue, name, state, generation, attempt, seq, progress, result, error, history, parent_id, cancel_requested, created_at, started_at, finished_at, next_attempt_at, expires_at, updated_at, job";

/** The PENDING row of a job, in the shape jsonb_populate_recordset(null::tasks, ...) reads. */
export function pendingRecord(job: Job, nowMs: number): Record<string, unknown> {
  return {
    task_id: job.taskId,
    tenant: job.tenant,
    kind: job.kind,
    queue: job.queue || "default",
    name: job.name,
    state: "PENDING",
    generation: job.generation,
    attempt: job.attemptBase,
    seq: 0,
    progress: null,
    result: null,
    error: null,
    history: [],
    parent_id: job.parentId || null,
    cancel_requested: false,
    created_at: new Date(job.createdAtMs || nowMs).toISOString(),
    started_at: null,
    finished_at: null,
    next_attempt_at: null,
    expires_at: null,
    // The reconciler's clock: a row still PENDING this long after it was written is republished.
    updated_at: new Date(nowMs).toISOString(),
    // bytea accepts '\\x<hex>' text, so the job's bytes ride in the same JSON document.
    job: "\\x" + Buffer.from(Job.encode(job).finish()).toString("hex"),
  };
}

/**
 * Inserts the PENDING rows of new tasks in one statement and returns the ids
 * that were inserted. Existing task ids are left alone, which makes recording
 * idempotent per task id (deterministic ids: schedule fires, workflow children).
 */
export async function insertPending(db: Pool | PoolClient, jobs: Job[], nowMs: number): Promise<Set<string>> {
  if (!jobs.length) return new Set();
  const r = await db.query(
    `insert into tasks (${COLUMNS})
     select ${COLUMNS} from jsonb_populate_recordset(null::tasks, $1::jsonb)
     on conflict (task_id) do nothing returning task_id`,
    [JSON.stringify(jobs.map((j) => pendingRecord(j, nowMs)))],
  );
  return new Set(r.rows.map((x) => x.task_id as string));
}
