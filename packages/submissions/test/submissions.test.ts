// Recording submitted tasks against a real Postgres: group commit, idempotency
// per task id and per Idempotency-Key, and the row the reconciler and the
// projection read.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Job } from "@millrace/contracts";
import { DependencyUnavailableError, ManualClock } from "@millrace/runtime";
import { dbFixture, uniqueName, waitFor, type DbFixture } from "@millrace/testkit";
import { Submissions } from "@millrace/submissions";

function job(over: Partial<Job> = {}): Job {
  return Job.fromPartial({ taskId: uniqueName("task-"), tenant: "acme", kind: "predict", queue: "default", createdAtMs: 1_700_000_000_000, name: "n", ...over });
}

describe("Submissions (real Postgres)", () => {
  let db: DbFixture;
  let clock: ManualClock;
  let subs: Submissions;
  beforeEach(async () => {
    db = await dbFixture();
    clock = new ManualClock(1_700_000_000_500);
    subs = new Submissions(db.pool, { clock, idempotencyTtlMs: 60_000 });
  });
  afterEach(async () => {
    await db?.cleanup();
  });

  it("writes a PENDING row holding the job, stamped with the injected clock", async () => {
    const j = job({ parentId: "", queue: "" });
    expect(await subs.record(j)).toEqual({ taskId: j.taskId, existing: false, conflict: false });
    const r = await db.pool.query("select tenant, kind, queue, state, attempt, parent_id, created_at, updated_at, job from tasks where task_id = $1", [j.taskId]);
    expect(r.rows[0]).toMatchObject({ tenant: "acme", kind: "predict", queue: "default", state: "PENDING", attempt: 0, parent_id: null });
    expect(r.rows[0].created_at.getTime()).toBe(1_700_000_000_000);
    expect(r.rows[0].updated_at.getTime()).toBe(1_700_000_000_500);
    expect(Job.decode(r.rows[0].job)).toEqual(j);
    // A caller that encoded the job already (to publish the same bytes) has them stored as they are.
    const k = job();
    const encoded = Job.encode(k).finish();
    await subs.record(k, undefined, encoded);
    const stored = (await db.pool.query("select job from tasks where task_id = $1", [k.taskId])).rows[0].job as Buffer;
    expect(Buffer.compare(stored, Buffer.from(encoded))).toBe(0);
  });

  it("group-commits records made in one turn into one statement, and reports an existing task id", async () => {
    const jobs = Array.from({ length: 40 }, () => job());
    const before = (await db.pool.query("select xact_commit from pg_stat_database where datname = current_database()")).rows[0].xact_commit;
    const results = await Promise.all(jobs.map((j) => subs.record(j)));
    expect(results.every((r, i) => r.taskId === jobs[i].taskId && !r.existing && !r.conflict)).toBe(true);
    expect((await db.pool.query("select count(*)::int as n from tasks")).rows[0].n).toBe(40);
    // pg_stat_database counts transactions; one insert plus the count query, give or take the stats query itself.
    const after = (await db.pool.query("select xact_commit from pg_stat_database where datname = current_database()")).rows[0].xact_commit;
    expect(Number(after) - Number(before)).toBeLessThan(5);
    // The same task id again (a deterministic id, as a schedule fire uses) writes nothing.
    expect(await subs.record(jobs[0])).toEqual({ taskId: jobs[0].taskId, existing: true, conflict: false });
  });

  it("binds an Idempotency-Key to one task: same request → that task, other body → conflict, after the TTL → a new task", async () => {
    const first = job();
    expect(await subs.record(first, { key: "k1", requestHash: "h1" })).toEqual({ taskId: first.taskId, existing: false, conflict: false });
    const again = job();
    expect(await subs.record(again, { key: "k1", requestHash: "h1" })).toEqual({ taskId: first.taskId, existing: true, conflict: false });
    expect(await subs.record(job(), { key: "k1", requestHash: "other" })).toMatchObject({ taskId: first.taskId, existing: true, conflict: true });
    // Another tenant's key of the same name is its own.
    const theirs = job({ tenant: "globex" });
    expect(await subs.record(theirs, { key: "k1", requestHash: "h1" })).toEqual({ taskId: theirs.taskId, existing: false, conflict: false });
    // Only the first job of acme's key has a row.
    expect((await db.pool.query("select count(*)::int as n from tasks where task_id = $1", [again.taskId])).rows[0].n).toBe(0);
    clock.advance(60_001);
    const later = job();
    expect(await subs.record(later, { key: "k1", requestHash: "h1" })).toEqual({ taskId: later.taskId, existing: false, conflict: false });
  });

  it("concurrent requests with one key make one task", async () => {
    const jobs = Array.from({ length: 8 }, () => job());
    const results = await Promise.all(jobs.map((j) => subs.record(j, { key: "race", requestHash: "h" })));
    const ids = new Set(results.map((r) => r.taskId));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.existing)).toHaveLength(1);
    expect((await db.pool.query("select count(*)::int as n from tasks")).rows[0].n).toBe(1);
  });

  it("a failed write rejects every record of its batch and binds no key", async () => {
    await db.pool.query("alter table tasks add constraint no_boom check (name <> 'boom')");
    const results = await Promise.allSettled([subs.record(job({ name: "boom" })), subs.record(job())]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    await expect(subs.record(job({ name: "boom" }), { key: "kb", requestHash: "h" })).rejects.toThrow(/no_boom/);
    expect((await db.pool.query("select count(*)::int as n from idempotency_keys")).rows[0].n).toBe(0);
    // The next batch is not stuck behind the failed one.
    expect((await subs.record(job())).existing).toBe(false);
  });

  it("fails a record with DependencyUnavailableError when Postgres does not answer in time, instead of hanging", async () => {
    const bounded = new Submissions(db.pool, { clock, idempotencyTtlMs: 60_000, timeoutMs: 300 });
    // Another session holds the table: every insert into it waits.
    const holder = await db.pool.connect();
    try {
      await holder.query("begin");
      await holder.query("lock table tasks in access exclusive mode");
      const started = Date.now();
      await expect(bounded.record(job())).rejects.toBeInstanceOf(DependencyUnavailableError);
      await expect(bounded.record(job(), { key: "stalled", requestHash: "h" })).rejects.toBeInstanceOf(DependencyUnavailableError);
      // Bounded by the timeout, not by the lock (which is never released while these wait).
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await holder.query("rollback");
      holder.release();
    }
  });

  it("a record that failed for time was not written, in flight (its statement is cancelled) or queued behind it, so a retry cannot make the task run twice", async () => {
    const bounded = new Submissions(db.pool, { clock, idempotencyTtlMs: 60_000, timeoutMs: 300 });
    const insertsWaiting = async (waiting: boolean) =>
      (
        await db.pool.query(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
             and state = 'active' and query like 'insert into tasks%' ${waiting ? "and wait_event_type = 'Lock'" : ""}`,
        )
      ).rows[0].n as number;
    const holder = await db.pool.connect();
    const inFlight = job();
    const queued = job();
    try {
      await holder.query("begin");
      await holder.query("lock table tasks in access exclusive mode");
      const a = bounded.record(inFlight);
      await waitFor(async () => (await insertsWaiting(true)) === 1, { what: "the first insert waiting on the lock" });
      const b = bounded.record(queued);
      await expect(a).rejects.toBeInstanceOf(DependencyUnavailableError);
      await expect(b).rejects.toBeInstanceOf(DependencyUnavailableError);
    } finally {
      await holder.query("rollback");
      holder.release();
    }
    // Whatever was still going to run against the table has run by now.
    await waitFor(async () => (await insertsWaiting(false)) === 0, { what: "no insert left running" });
    const rows = await db.pool.query("select task_id from tasks where task_id = any($1)", [[inFlight.taskId, queued.taskId]]);
    expect(rows.rows).toEqual([]);
    // And the table takes records again at once.
    expect((await bounded.record(job())).existing).toBe(false);
  });
});
