import { Job, encodeMessage } from "@millrace/contracts";
import { isoTime, type Pool, type PoolClient } from "@millrace/runtime";

// A PENDING row sets these columns; the table's defaults fill the rest
// (state-dependent columns stay null until the projection writes them).
// Sent as a compact JSON array of records, the job's bytes in base64: the
// statement's text is most of what the insert costs both sides.
const COLUMNS = "task_id, tenant, kind, queue, name, generation, attempt, parent_id, created_at, updated_at, job, start_by";
const RECORD = "task_id text, tenant text, kind text, queue text, name text, generation int, attempt int, parent_id text, created_at timestamptz, updated_at timestamptz, job text, start_by timestamptz";

/** A job to record, with its encoded bytes when the caller has them already. */
export interface Pending {
  job: Job;
  encoded?: Uint8Array;
}

/** The PENDING row of a job, as the insert reads it. */
export function pendingRecord(job: Job, nowMs: number, encoded: Uint8Array = encodeMessage(Job, job)): Record<string, unknown> {
  return {
    task_id: job.taskId,
    tenant: job.tenant,
    kind: job.kind,
    queue: job.queue || "default",
    name: job.name,
    generation: job.generation,
    attempt: job.attemptBase,
    parent_id: job.parentId || null,
    created_at: isoTime(job.createdAtMs || nowMs),
    // The reconciler's clock: a row still PENDING this long after it was written is republished.
    updated_at: isoTime(nowMs),
    job: Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).toString("base64"),
    start_by: Number(job.startByMs) > 0 ? isoTime(Number(job.startByMs)) : null,
  };
}

/**
 * Inserts the PENDING rows of new tasks in one statement and returns the ids
 * that were inserted. Existing task ids are left alone, which makes recording
 * idempotent per task id (deterministic ids: schedule fires, workflow children).
 */
export async function insertPending(db: Pool | PoolClient, pending: Pending[], nowMs: number): Promise<Set<string>> {
  if (!pending.length) return new Set();
  const records = pending.map((p) => pendingRecord(p.job, nowMs, p.encoded));
  const r = await db.query(
    `insert into tasks (state, ${COLUMNS})
     select 'PENDING', task_id, tenant, kind, queue, name, generation, attempt, parent_id, created_at, updated_at, decode(job, 'base64'), start_by
     from json_to_recordset($1::json) as r(${RECORD})
     on conflict (task_id) do nothing returning task_id`,
    [JSON.stringify(records)],
  );
  return new Set(r.rows.map((x) => x.task_id as string));
}
