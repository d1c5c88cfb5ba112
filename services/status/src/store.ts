import { Job, TaskState, type Task, type TaskCount } from "@millrace/contracts";
import { BoundedMap, GoneError, isoTime, isTerminal, NotFoundError, ValidationError, stateFromName, stateName, type Clock, type Pool, type PoolClient } from "@millrace/runtime";
import type { TaskRow } from "./projection";

const COLUMNS =
  "task_id, tenant, kind, queue, name, state, generation, attempt, seq, progress, result, error, history, parent_id, cancel_requested, created_at, started_at, finished_at, next_attempt_at, expires_at, start_by";

/**
 * Largest result (its JSON, in bytes) a task list carries: small results
 * (metrics, a few predictions) are part of an overview, 10,000 predictions are
 * not; a page of 500 stays under 4 MiB.
 */
export const LIST_RESULT_MAX_BYTES = 8 * 1024;
const LIST_COLUMNS = COLUMNS.split(", ")
  .map((c) => (c === "result" ? `case when r.bytes <= ${LIST_RESULT_MAX_BYTES} then tasks.result end as result` : `tasks.${c}`))
  .join(", ");

interface DbRow {
  task_id: string;
  tenant: string;
  kind: string;
  queue: string;
  name: string;
  state: string;
  generation: number;
  attempt: number;
  seq: number;
  progress: TaskRow["progress"];
  result: unknown;
  error: TaskRow["error"];
  history: TaskRow["history"];
  parent_id: string | null;
  cancel_requested: boolean;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  next_attempt_at: Date | null;
  expires_at: Date | null;
  start_by: Date | null;
  job?: Buffer | null;
}

const ms = (d: Date | null) => (d ? d.getTime() : null);
const iso = (t: number | null) => (t === null ? null : isoTime(t));

export function fromDb(r: DbRow): TaskRow {
  return {
    taskId: r.task_id,
    tenant: r.tenant,
    kind: r.kind,
    queue: r.queue,
    name: r.name,
    state: stateFromName(r.state) ?? TaskState.PENDING,
    generation: r.generation,
    attempt: r.attempt,
    seq: r.seq,
    progress: r.progress,
    result: r.result,
    error: r.error,
    history: r.history ?? [],
    parentId: r.parent_id,
    cancelRequested: r.cancel_requested,
    createdAt: r.created_at.getTime(),
    startedAt: ms(r.started_at),
    finishedAt: ms(r.finished_at),
    nextAttemptAt: ms(r.next_attempt_at),
    expiresAt: ms(r.expires_at),
    startBy: ms(r.start_by),
  };
}

/** The shape jsonb_populate_recordset(null::tasks, ...) reads. */
function toRecord(r: TaskRow, updatedAt: string) {
  return {
    task_id: r.taskId,
    tenant: r.tenant,
    kind: r.kind,
    queue: r.queue,
    name: r.name,
    state: stateName(r.state),
    generation: r.generation,
    attempt: r.attempt,
    seq: r.seq,
    progress: r.progress,
    result: r.result ?? null,
    error: r.error,
    history: r.history,
    parent_id: r.parentId,
    cancel_requested: r.cancelRequested,
    created_at: iso(r.createdAt),
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
    next_attempt_at: iso(r.nextAttemptAt),
    expires_at: iso(r.expiresAt),
    start_by: iso(r.startBy),
    updated_at: updatedAt,
  };
}

export function toTask(r: TaskRow, children: string[] = []): Task {
  return {
    taskId: r.taskId,
    tenant: r.tenant,
    kind: r.kind,
    queue: r.queue,
    name: r.name,
    state: r.state,
    progress: r.progress ?? undefined,
    resultJson: r.result === null || r.result === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(r.result)),
    error: r.error ?? undefined,
    attempts: r.attempt,
    createdAtMs: r.createdAt,
    startedAtMs: r.startedAt ?? 0,
    finishedAtMs: r.finishedAt ?? 0,
    nextAttemptAtMs: r.nextAttemptAt ?? 0,
    parentId: r.parentId ?? "",
    history: r.history.map((h) => ({ ...h, error: h.error ?? undefined })),
    children,
    expired: false,
    expiresAtMs: r.expiresAt ?? 0,
    cancelRequested: r.cancelRequested,
    generation: r.generation,
    seq: r.seq,
    omittedResultBytes: 0,
    startByMs: r.startBy ?? 0,
  };
}

// start_by is the submit's and a retry's; an update keeps the row's.
const UPSERT = `insert into tasks (${COLUMNS}, updated_at)
  select ${COLUMNS}, updated_at from jsonb_populate_recordset(null::tasks, $1::jsonb)
  on conflict (task_id) do update set
    kind = excluded.kind, queue = excluded.queue, name = excluded.name, state = excluded.state,
    generation = excluded.generation, attempt = excluded.attempt, seq = excluded.seq,
    progress = excluded.progress, result = excluded.result, error = excluded.error, history = excluded.history,
    parent_id = excluded.parent_id, cancel_requested = excluded.cancel_requested,
    started_at = excluded.started_at, finished_at = excluded.finished_at,
    next_attempt_at = excluded.next_attempt_at, expires_at = excluded.expires_at, updated_at = excluded.updated_at`;

/**
 * The existing row is the one rowFromEvent would make for the incoming row's
 * events: PENDING, nothing run yet, not cancelled, the same identity. Every
 * column the projection reads is checked, so projecting from it would give
 * the incoming row exactly.
 */
const PENDING_AS_SUBMITTED = `tasks.state = 'PENDING' and tasks.generation = excluded.generation and tasks.attempt = 0 and tasks.seq = 0
  and not tasks.cancel_requested and tasks.history = '[]'::jsonb and tasks.progress is null and tasks.result is null and tasks.error is null
  and tasks.started_at is null and tasks.finished_at is null and tasks.next_attempt_at is null and tasks.expires_at is null
  and tasks.tenant = excluded.tenant and tasks.kind = excluded.kind and tasks.queue = excluded.queue and tasks.name = excluded.name
  and tasks.parent_id is not distinct from excluded.parent_id and tasks.created_at = excluded.created_at`;

const UNFINISHED_SQL = "'PENDING', 'STARTED', 'PROGRESS', 'RETRY'";

function encodeCursor(createdAt: number, taskId: string): string {
  return Buffer.from(`${createdAt}|${taskId}`).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: number; taskId: string } {
  const raw = Buffer.from(cursor, "base64url").toString("utf8");
  const i = raw.indexOf("|");
  const createdAt = Number(raw.slice(0, i));
  // Within Date's range too: a huge number made an invalid date that Postgres refused (a 500).
  if (i < 0 || !Number.isSafeInteger(createdAt) || Number.isNaN(new Date(createdAt).getTime())) throw new ValidationError("cursor is not valid", { field: "cursor" });
  return { createdAt, taskId: raw.slice(i + 1) };
}

export class TaskStore {
  /**
   * Terminal rows that were read, which only change by a manual retry: a
   * finished task asked about again is answered without a query. Entries are
   * dropped when a change notice says the task moved to another state (any
   * replica publishes them). Filled on read only: gateways answer most polls
   * of finished tasks from their own copy (sent in the change notices), and
   * holding every projected row here kept 20,000 object graphs in the old
   * generation, which cost this service a fifth of its CPU in major GCs.
   */
  private readonly finished: BoundedMap<string, TaskRow>;

  constructor(
    private readonly pool: Pool,
    private readonly clock: Clock,
    cacheSize = 20_000,
  ) {
    this.finished = new BoundedMap({ max: cacheSize });
  }

  private remember(row: TaskRow): void {
    if (isTerminal(row.state)) this.finished.set(row.taskId, row);
  }

  /** A change notice: forget a cached row whose state moved on. */
  changed(taskId: string, state: TaskState): void {
    const row = this.finished.get(taskId);
    if (row && row.state !== state) this.finished.delete(taskId);
  }

  forget(taskId: string): void {
    this.finished.delete(taskId);
  }

  async get(tenant: string, taskId: string): Promise<TaskRow> {
    const hit = this.finished.get(taskId);
    if (hit && hit.tenant === tenant && (hit.expiresAt === null || hit.expiresAt > this.clock.now())) return hit;
    const r = await this.pool.query(`select ${COLUMNS} from tasks where task_id = $1 and tenant = $2`, [taskId, tenant]);
    if (!r.rowCount) {
      const t = await this.pool.query("select 1 from task_tombstones where task_id = $1 and tenant = $2", [taskId, tenant]);
      if (t.rowCount) throw new GoneError(`task ${taskId} has expired`, { field: "task_id" });
      throw new NotFoundError(`task ${taskId} not found`, { field: "task_id" });
    }
    const row = fromDb(r.rows[0]);
    if (row.expiresAt !== null && row.expiresAt <= this.clock.now()) throw new GoneError(`task ${taskId} has expired`, { field: "task_id" });
    this.remember(row);
    return row;
  }

  async getJob(taskId: string): Promise<Job | undefined> {
    const r = await this.pool.query("select job from tasks where task_id = $1", [taskId]);
    const b = r.rows[0]?.job as Buffer | undefined;
    return b ? Job.decode(b) : undefined;
  }

  async children(taskId: string): Promise<string[]> {
    const r = await this.pool.query("select task_id from tasks where parent_id = $1 order by created_at, task_id", [taskId]);
    return r.rows.map((x) => x.task_id as string);
  }

  /** A page of tasks, newest first; `omitted`: the size of each result left out (LIST_RESULT_MAX_BYTES). */
  async list(q: { tenant: string; state?: TaskState; kind?: string; limit: number; cursor?: string; activeOnly?: boolean; parentId?: string }): Promise<{ rows: TaskRow[]; omitted: Map<string, number>; nextCursor: string }> {
    const where = ["tenant = $1", "(expires_at is null or expires_at > $2)"];
    const params: unknown[] = [q.tenant, new Date(this.clock.now())];
    if (q.state) {
      params.push(stateName(q.state));
      where.push(`state = $${params.length}`);
    }
    if (q.activeOnly) where.push(`state in ('STARTED','PROGRESS')`);
    if (q.kind) {
      params.push(q.kind);
      where.push(`kind = $${params.length}`);
    }
    if (q.parentId) {
      params.push(q.parentId);
      where.push(`parent_id = $${params.length}`);
    }
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      params.push(new Date(c.createdAt), c.taskId);
      where.push(`(created_at, task_id) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(q.limit + 1);
    // A result over LIST_RESULT_MAX_BYTES stays in Postgres: only its size is read.
    const r = await this.pool.query(
      `select ${LIST_COLUMNS}, r.bytes as result_bytes
       from tasks cross join lateral (select octet_length(tasks.result::text) as bytes) r
       where ${where.join(" and ")} order by created_at desc, task_id desc limit $${params.length}`,
      params,
    );
    const page = r.rows.slice(0, q.limit);
    const rows = page.map(fromDb);
    const omitted = new Map(page.filter((x) => x.result_bytes > LIST_RESULT_MAX_BYTES).map((x) => [x.task_id as string, Number(x.result_bytes)]));
    const last = rows[rows.length - 1];
    return { rows, omitted, nextCursor: r.rows.length > q.limit && last ? encodeCursor(last.createdAt, last.taskId) : "" };
  }

  /**
   * A tenant's counts by queue, kind and state: the tasks created since
   * `sinceMs` (expired results not counted), through tasks_tenant_created,
   * and every unfinished task, through tasks_tenant_state, so a tenant's long
   * history is not scanned (a day of 78,000 tasks in a million-row table:
   * 55 ms; the unfinished count under 1 ms).
   */
  async count(tenant: string, sinceMs: number): Promise<{ recent: TaskCount[]; unfinished: TaskCount[] }> {
    const group = "select queue, kind, state, count(*)::int as n from tasks where tenant = $1 and";
    const [recent, unfinished] = await Promise.all([
      this.pool.query(`${group} created_at >= $2 and (expires_at is null or expires_at > $3) group by queue, kind, state`, [tenant, new Date(sinceMs), new Date(this.clock.now())]),
      this.pool.query(`${group} state in (${UNFINISHED_SQL}) group by queue, kind, state`, [tenant]),
    ]);
    const rows = (r: { rows: Array<{ queue: string; kind: string; state: string; n: number }> }): TaskCount[] =>
      r.rows.map((x) => ({ queue: x.queue, kind: x.kind, state: stateFromName(x.state) ?? TaskState.PENDING, count: x.n }));
    return { recent: rows(recent), unfinished: rows(unfinished) };
  }

  /** Locks the rows of a batch (sorted ids avoid deadlocks between replicas). */
  async lockRows(client: PoolClient, taskIds: string[]): Promise<Map<string, TaskRow>> {
    return this.readRows(client, taskIds, true);
  }

  /** Reads rows on a given connection (inside its transaction). */
  async readRows(client: PoolClient, taskIds: string[], forUpdate = false): Promise<Map<string, TaskRow>> {
    const ids = [...new Set(taskIds)].sort();
    const r = await client.query(`select ${COLUMNS} from tasks where task_id = any($1) order by task_id${forUpdate ? " for update" : ""}`, [ids]);
    return new Map(r.rows.map((x) => [x.task_id as string, fromDb(x)]));
  }

  async writeRows(client: PoolClient | Pool, rows: TaskRow[]): Promise<void> {
    if (!rows.length) return;
    await client.query(UPSERT, [this.records(rows)]);
  }

  /**
   * Writes rows that were projected from no row at all (rowFromEvent), and
   * only where that is what the database holds: the task is absent, or its
   * row is still exactly the PENDING row a submit inserts. Returns the ids
   * written; any other task was left alone, for the caller to project from
   * its real row. Each row is checked under its lock by the statement itself,
   * so no read and no transaction is needed: the common case of a batch that
   * holds a task's whole life (STARTED and outcome) costs one round trip.
   * Each id written maps to the row's start_by, which no event carries.
   */
  async writeOverPending(db: PoolClient | Pool, rows: TaskRow[]): Promise<Map<string, number | null>> {
    if (!rows.length) return new Map();
    // Sorted, as lockRows does, so two replicas lock rows in the same order.
    const sorted = rows.slice().sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
    const r = await db.query(`${UPSERT} where ${PENDING_AS_SUBMITTED} returning task_id, start_by`, [this.records(sorted)]);
    return new Map(r.rows.map((x) => [x.task_id as string, ms(x.start_by as Date | null)]));
  }

  private records(rows: TaskRow[]): string {
    // The injected clock, as everywhere else (the reconciler compares updated_at with it).
    const updatedAt = isoTime(this.clock.now());
    return JSON.stringify(rows.map((r) => toRecord(r, updatedAt)));
  }

  /** PENDING tasks with no event for `olderThanMs`: their publish may have been lost. */
  async stalePending(olderThanMs: number, limit: number): Promise<Job[]> {
    const cutoff = new Date(this.clock.now() - olderThanMs);
    const r = await this.pool.query(
      `update tasks set updated_at = $2 where task_id in (
         select task_id from tasks where state = 'PENDING' and updated_at < $1 and job is not null
         order by created_at limit $3 for update skip locked)
       returning job`,
      [cutoff, new Date(this.clock.now()), limit],
    );
    return r.rows.map((x) => Job.decode(x.job as Buffer));
  }

  /**
   * STARTED or PROGRESS tasks with no change for `olderThanMs` that no live
   * worker holds (`live`: task ids from every heartbeat): their worker died
   * and JetStream has not redelivered the job, so its message is gone (an
   * unsynced store lost in a crash). Each comes back once per deadline, as the
   * job's next attempt. Parents are the orchestrator's and have no worker.
   */
  async staleRunning(olderThanMs: number, limit: number, live: string[], parentKinds: readonly string[]): Promise<Job[]> {
    const now = this.clock.now();
    const r = await this.pool.query(
      `update tasks set updated_at = $2 where task_id in (
         select task_id from tasks
         where state in ('STARTED', 'PROGRESS') and updated_at < $1 and job is not null
           and kind <> all($4::text[]) and task_id <> all($5::text[])
         order by updated_at limit $3 for update skip locked)
       returning job, attempt`,
      [new Date(now - olderThanMs), new Date(now), limit, parentKinds, live],
    );
    return r.rows.map((x) => ({ ...Job.decode(x.job as Buffer), attemptBase: x.attempt as number }));
  }

  /** Deletes expired rows (of one tenant, or of all), leaving tombstones so they answer 410. */
  async purgeExpired(limit: number, tenant?: string): Promise<number> {
    const only = tenant || null;
    const r = await this.pool.query(
      `with gone as (
         delete from tasks where task_id in (
           select task_id from tasks where expires_at is not null and expires_at <= $1 and ($3::text is null or tenant = $3)
           order by expires_at limit $2)
         returning task_id, tenant)
       insert into task_tombstones (task_id, tenant) select task_id, tenant from gone on conflict do nothing`,
      [new Date(this.clock.now()), limit, only],
    );
    await this.pool.query("delete from idempotency_keys where created_at < $1 and ($2::text is null or tenant = $2)", [new Date(this.clock.now() - 24 * 3_600_000), only]);
    return r.rowCount ?? 0;
  }
}
