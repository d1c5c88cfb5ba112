import type { PoolClient } from "@millrace/runtime";

export interface Binding {
  /** The task the key names: the new one, or the one bound earlier within the TTL. */
  taskId: string;
  /** The key was bound earlier within the TTL. */
  existing: boolean;
  /** ...to a request with a different body. */
  conflict: boolean;
}

/**
 * Binds (tenant, key) to taskId unless a binding younger than ttlMs exists.
 * Runs inside the caller's transaction, so the binding and the task's row
 * commit together: a key never names a task that was not recorded.
 */
export async function bindIdempotencyKey(client: PoolClient, b: { tenant: string; key: string; requestHash: string; taskId: string; nowMs: number; ttlMs: number }): Promise<Binding> {
  const r = await client.query(
    `insert into idempotency_keys (tenant, key, request_hash, task_id, created_at) values ($1, $2, $3, $4, $5)
     on conflict (tenant, key) do update set request_hash = excluded.request_hash, task_id = excluded.task_id, created_at = excluded.created_at
       where idempotency_keys.created_at < $6
     returning task_id`,
    [b.tenant, b.key, b.requestHash, b.taskId, new Date(b.nowMs), new Date(b.nowMs - b.ttlMs)],
  );
  if (r.rowCount) return { taskId: b.taskId, existing: false, conflict: false };
  const cur = await client.query("select task_id, request_hash from idempotency_keys where tenant = $1 and key = $2", [b.tenant, b.key]);
  const row = cur.rows[0];
  return { taskId: row.task_id, existing: true, conflict: row.request_hash !== b.requestHash };
}
