// Postgres access for schedules and their runs (migration 010_schedules.sql).
import { ScheduleJobOptions } from "@millrace/contracts";
import { inTransaction, QuotaExceededError, type Pool } from "@millrace/runtime";

export type CatchUp = "skip" | "run_once";
export type RunTrigger = "schedule" | "catch_up" | "manual";

/** What a client may set on a schedule. */
export interface ScheduleInput {
  name: string;
  cron: string;
  intervalSeconds: number;
  timezone: string;
  kind: string;
  payload: Record<string, unknown>;
  enabled: boolean;
  queue: string;
  catchUp: CatchUp;
  /** Retry, time limits and start_within_ms for every fire's job (migration 014); absent = the kind's defaults. */
  jobOptions?: ScheduleJobOptions;
}

export interface ScheduleRow extends ScheduleInput {
  tenant: string;
  nextFireAtMs: number | null;
  lastFireAtMs: number | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** Run states beyond the task's: SCHEDULED = claimed, task not yet created and published. */
export const SCHEDULED = "SCHEDULED";

export interface RunKey {
  tenant: string;
  schedule: string;
  scheduledForMs: number;
}

export interface RunRow extends RunKey {
  firedAtMs: number;
  taskId: string;
  trigger: RunTrigger;
  state: string;
  job: Buffer;
  submitAttempts: number;
  durationMs: number | null;
  resultSummary: Record<string, unknown> | null;
  error: string | null;
  updatedAtMs: number;
}

const ms = (d: Date | null): number | null => (d ? d.getTime() : null);
const date = (v: number | null): Date | null => (v === null ? null : new Date(v));

function toSchedule(r: Record<string, any>): ScheduleRow {
  return {
    tenant: r.tenant,
    name: r.name,
    cron: r.cron,
    intervalSeconds: r.interval_seconds,
    timezone: r.timezone,
    kind: r.kind,
    payload: r.payload ?? {},
    enabled: r.enabled,
    queue: r.queue,
    catchUp: r.catch_up,
    jobOptions: ScheduleJobOptions.fromJSON(r.job_options ?? {}),
    nextFireAtMs: ms(r.next_fire_at),
    lastFireAtMs: ms(r.last_fire_at),
    createdAtMs: r.created_at.getTime(),
    updatedAtMs: r.updated_at.getTime(),
  };
}

function toRun(r: Record<string, any>): RunRow {
  return {
    tenant: r.tenant,
    schedule: r.schedule,
    scheduledForMs: r.scheduled_for.getTime(),
    firedAtMs: r.fired_at.getTime(),
    taskId: r.task_id,
    trigger: r.trigger,
    state: r.state,
    job: r.job,
    submitAttempts: r.submit_attempts,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    resultSummary: r.result_summary,
    error: r.error,
    updatedAtMs: r.updated_at.getTime(),
  };
}

const jobOptionsJson = (s: ScheduleInput): string => JSON.stringify(ScheduleJobOptions.toJSON(s.jobOptions ?? ScheduleJobOptions.fromPartial({})));

const TERMINAL_SQL = "('SUCCESS', 'FAILURE', 'REVOKED')";

export class ScheduleStore {
  constructor(private readonly pool: Pool) {}

  async get(tenant: string, name: string): Promise<ScheduleRow | null> {
    const r = await this.pool.query("select * from schedules where tenant = $1 and name = $2", [tenant, name]);
    return r.rows[0] ? toSchedule(r.rows[0]) : null;
  }

  async list(tenant: string): Promise<ScheduleRow[]> {
    const r = await this.pool.query("select * from schedules where tenant = $1 order by name", [tenant]);
    return r.rows.map(toSchedule);
  }

  /** Inserts a new schedule; false when the name is taken. */
  /**
   * Inserts a new schedule; false when the name is taken. With `maxPerTenant`,
   * a tenant already holding that many schedules gets QuotaExceededError. The
   * count and the insert run under a per-tenant advisory lock, so concurrent
   * creates cannot both slip under the quota.
   */
  async insert(s: ScheduleRow, maxPerTenant?: number): Promise<boolean> {
    if (maxPerTenant === undefined) return this.insertRow(s, this.pool);
    return inTransaction(this.pool, async (client) => {
      await client.query("select pg_advisory_xact_lock(hashtext('millrace.schedules:' || $1))", [s.tenant]);
      const n = (await client.query("select count(*)::int as n from schedules where tenant = $1", [s.tenant])).rows[0].n as number;
      if (n >= maxPerTenant) {
        throw new QuotaExceededError(`tenant has ${n} schedules, the most allowed is ${maxPerTenant}; delete one first`, { field: "name", details: { limit: maxPerTenant } });
      }
      return this.insertRow(s, client);
    });
  }

  private async insertRow(s: ScheduleRow, client: Pick<Pool, "query">): Promise<boolean> {
    const r = await client.query(
      `insert into schedules (tenant, name, cron, interval_seconds, timezone, kind, payload, enabled, queue, catch_up, next_fire_at, last_fire_at, created_at, updated_at, job_options)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       on conflict (tenant, name) do nothing`,
      [s.tenant, s.name, s.cron, s.intervalSeconds, s.timezone, s.kind, JSON.stringify(s.payload), s.enabled, s.queue, s.catchUp, date(s.nextFireAtMs), date(s.lastFireAtMs), new Date(s.createdAtMs), new Date(s.updatedAtMs), jobOptionsJson(s)],
    );
    return r.rowCount === 1;
  }

  /** Rewrites an existing schedule's settings and cursor; false when it is gone. */
  async update(s: ScheduleRow): Promise<boolean> {
    const r = await this.pool.query(
      `update schedules set cron = $3, interval_seconds = $4, timezone = $5, kind = $6, payload = $7, enabled = $8, queue = $9,
         catch_up = $10, next_fire_at = $11, updated_at = $12, job_options = $13
       where tenant = $1 and name = $2`,
      [s.tenant, s.name, s.cron, s.intervalSeconds, s.timezone, s.kind, JSON.stringify(s.payload), s.enabled, s.queue, s.catchUp, date(s.nextFireAtMs), new Date(s.updatedAtMs), jobOptionsJson(s)],
    );
    return r.rowCount === 1;
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    const r = await this.pool.query("delete from schedules where tenant = $1 and name = $2", [tenant, name]);
    return r.rowCount === 1;
  }

  /**
   * Inserts `rows` the first time a tenant is seeded and never again, so a
   * default the operator deleted stays deleted. Returns the names inserted.
   */
  async seed(tenant: string, rows: ScheduleRow[], nowMs: number): Promise<string[]> {
    return inTransaction(this.pool, async (client) => {
      const first = await client.query("insert into schedule_seeds (tenant, seeded_at) values ($1, $2) on conflict do nothing", [tenant, new Date(nowMs)]);
      const inserted: string[] = [];
      if (first.rowCount === 1) {
        for (const s of rows) {
          const r = await client.query(
            `insert into schedules (tenant, name, cron, interval_seconds, timezone, kind, payload, enabled, queue, catch_up, next_fire_at, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) on conflict (tenant, name) do nothing`,
            [tenant, s.name, s.cron, s.intervalSeconds, s.timezone, s.kind, JSON.stringify(s.payload), s.enabled, s.queue, s.catchUp, date(s.nextFireAtMs), new Date(nowMs)],
          );
          if (r.rowCount === 1) inserted.push(s.name);
        }
      }
      return inserted;
    });
  }

  /** Enabled schedules whose cursor is at or before `nowMs`, every tenant. */
  async due(nowMs: number, limit = 100): Promise<ScheduleRow[]> {
    const r = await this.pool.query("select * from schedules where enabled and next_fire_at <= $1 order by next_fire_at limit $2", [new Date(nowMs), limit]);
    return r.rows.map(toSchedule);
  }

  /**
   * Moves a schedule's cursor from `expectedMs` to `nextMs` and, when `run` is
   * given, records that fire, in one transaction. "moved" means the cursor was
   * no longer at `expectedMs` (the schedule was edited, or another leader got
   * there first): nothing changes. "duplicate" means the cursor moved but a run
   * for that instant already existed, so it must not be fired again.
   */
  async claim(tenant: string, name: string, expectedMs: number, nextMs: number | null, run?: RunRow): Promise<"claimed" | "duplicate" | "moved" | "advanced"> {
    return inTransaction(this.pool, async (client) => {
      const moved = await client.query(
        // greatest() ignores nulls: last_fire_at only moves forward.
        `update schedules set next_fire_at = $4, last_fire_at = greatest(last_fire_at, $5::timestamptz)
         where tenant = $1 and name = $2 and next_fire_at = $3`,
        [tenant, name, new Date(expectedMs), date(nextMs), run ? new Date(run.scheduledForMs) : null],
      );
      // No row matched: nothing was written, so the transaction ends with no change.
      if (moved.rowCount !== 1) return "moved";
      if (!run) return "advanced";
      return (await this.insertRun(run, client)) ? "claimed" : "duplicate";
    });
  }

  /** Records a manual fire and notes it as the schedule's last fire; false when that instant already has a run. */
  async insertManualRun(run: RunRow): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const inserted = await this.insertRun(run, client);
      if (inserted) {
        await client.query("update schedules set last_fire_at = greatest(last_fire_at, $3::timestamptz) where tenant = $1 and name = $2", [
          run.tenant,
          run.schedule,
          new Date(run.scheduledForMs),
        ]);
      }
      return inserted;
    });
  }

  /** Records a fire; false when that (schedule, instant) already has one. */
  async insertRun(run: RunRow, client: Pick<Pool, "query"> = this.pool): Promise<boolean> {
    const r = await client.query(
      `insert into schedule_runs (tenant, schedule, scheduled_for, fired_at, task_id, trigger, state, job, submit_attempts, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)
       on conflict do nothing`,
      [run.tenant, run.schedule, new Date(run.scheduledForMs), new Date(run.firedAtMs), run.taskId, run.trigger, run.state, run.job, new Date(run.updatedAtMs)],
    );
    return r.rowCount === 1;
  }

  async getRun(key: RunKey): Promise<RunRow | null> {
    const r = await this.pool.query("select * from schedule_runs where tenant = $1 and schedule = $2 and scheduled_for = $3", [key.tenant, key.schedule, new Date(key.scheduledForMs)]);
    return r.rows[0] ? toRun(r.rows[0]) : null;
  }

  /** The task exists and its job is published: the run now mirrors the task. */
  async markSubmitted(key: RunKey, state: string, nowMs: number): Promise<void> {
    await this.pool.query(
      `update schedule_runs set state = $4, error = null, submit_attempts = submit_attempts + 1, updated_at = $5
       where tenant = $1 and schedule = $2 and scheduled_for = $3 and state = '${SCHEDULED}'`,
      [key.tenant, key.schedule, new Date(key.scheduledForMs), state, new Date(nowMs)],
    );
  }

  async markSubmitFailed(key: RunKey, error: string, nowMs: number): Promise<void> {
    await this.pool.query(
      `update schedule_runs set error = $4, submit_attempts = submit_attempts + 1, updated_at = $5
       where tenant = $1 and schedule = $2 and scheduled_for = $3 and state = '${SCHEDULED}'`,
      [key.tenant, key.schedule, new Date(key.scheduledForMs), error.slice(0, 2000), new Date(nowMs)],
    );
  }

  /**
   * Claimed runs whose submission did not finish (a failed call, or a leader
   * that died between claim and publish), once their backoff has passed:
   * 5 s after the claim or the first failure, doubling, at most a minute.
   */
  async stuckSubmissions(nowMs: number, limit = 20): Promise<RunRow[]> {
    const r = await this.pool.query(
      `select * from schedule_runs where state = '${SCHEDULED}'
         and updated_at <= $1::timestamptz - least(60000, 5000 * power(2, least(greatest(submit_attempts - 1, 0), 10))) * interval '1 millisecond'
       order by updated_at limit $2`,
      [new Date(nowMs), limit],
    );
    return r.rows.map(toRun);
  }

  /** Submitted runs whose task has not finished. */
  async openRuns(limit = 100): Promise<RunRow[]> {
    const r = await this.pool.query(
      `select * from schedule_runs where state not in ${TERMINAL_SQL} and state <> '${SCHEDULED}' order by scheduled_for limit $1`,
      [limit],
    );
    return r.rows.map(toRun);
  }

  async updateRun(key: RunKey, u: { state: string; durationMs: number | null; resultSummary: Record<string, unknown> | null; error: string | null }, nowMs: number): Promise<void> {
    await this.pool.query(
      `update schedule_runs set state = $4, duration_ms = $5, result_summary = $6, error = $7, updated_at = $8
       where tenant = $1 and schedule = $2 and scheduled_for = $3 and state not in ${TERMINAL_SQL}`,
      [key.tenant, key.schedule, new Date(key.scheduledForMs), u.state, u.durationMs, u.resultSummary === null ? null : JSON.stringify(u.resultSummary), u.error, new Date(nowMs)],
    );
  }

  /** Most recent first. */
  async listRuns(tenant: string, name: string, limit: number): Promise<RunRow[]> {
    const r = await this.pool.query("select * from schedule_runs where tenant = $1 and schedule = $2 order by scheduled_for desc limit $3", [tenant, name, limit]);
    return r.rows.map(toRun);
  }
}
