// The scheduler built in-process (startScheduler) over real NATS, Postgres and
// gRPC, with a ManualClock: each test sets the time and runs leader passes.
import { afterEach, describe, expect, it } from "vitest";
import { TaskState } from "@millrace/contracts";
import { ConflictError, ManualClock, NotFoundError, QuotaExceededError, ValidationError } from "@millrace/runtime";
import { waitFor } from "@millrace/testkit";
import { scheduleTaskId } from "../src/firing";
import { startScheduler, type SchedulerHandle } from "../src/main";
import { jobsOnStream, schedulerClient, schedulerEnv, type Env, type SchedulerClient } from "./harness";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

// Background passes every 10 s of real time at most: tests drive passes with tick().
const QUIET = { LEASE_TTL_MS: "30000", TICK_MS: "10000", RUN_POLL_MS: "5000" };

async function expectRejects(p: Promise<unknown>, type: new (...a: never[]) => Error, field?: string, text?: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  if (field) expect((err as ValidationError).field).toBe(field);
  if (text) expect((err as Error).message).toMatch(text);
}

describe("scheduler (in-process, manual clock)", () => {
  let e: Env;
  const handles: SchedulerHandle[] = [];
  const clients: SchedulerClient[] = [];

  async function start(clock: ManualClock, overrides: Record<string, string> = {}): Promise<{ s: SchedulerHandle; api: SchedulerClient }> {
    const s = await startScheduler(e.config({ ...QUIET, ...overrides }), { clock });
    handles.push(s);
    const api = schedulerClient(s.grpcPort);
    clients.push(api);
    return { s, api };
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const h of handles.splice(0)) await h.close();
    await e?.cleanup();
  });

  it("seeds the Celery Beat defaults once: 02:00 and 03:00 UTC nightly, validation every 6 h", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-03-10T12:34:00Z"));
    const { s, api } = await start(clock, { SCHEDULES_TENANT: "system,acme" });
    const byName = Object.fromEntries((await api.list()).map((x) => [x.name, x]));
    // Every listed tenant gets its own copy; "system" (the first) serves requests naming none.
    expect((await api.list("acme")).map((x) => [x.tenant, x.name, x.nextFireAtMs])).toEqual(
      (await api.list("system")).map((x) => ["acme", x.name, x.nextFireAtMs]),
    );
    expect(Object.keys(byName).sort()).toEqual(["cleanup-expired-results", "train-all-products", "validate-models"]);
    expect(byName["train-all-products"]).toMatchObject({ tenant: "system", cron: "0 2 * * *", timezone: "UTC", kind: "train_all_products", queue: "batch", enabled: true, catchUp: "run_once" });
    expect(iso(byName["train-all-products"].nextFireAtMs)).toBe("2026-03-11T02:00:00.000Z");
    expect(byName["cleanup-expired-results"]).toMatchObject({ kind: "maintenance", payload: { action: "cleanup_expired_results" } });
    expect(iso(byName["cleanup-expired-results"].nextFireAtMs)).toBe("2026-03-11T03:00:00.000Z");
    expect(byName["validate-models"]).toMatchObject({ kind: "maintenance", payload: { action: "validate_models" }, catchUp: "skip" });
    expect(iso(byName["validate-models"].nextFireAtMs)).toBe("2026-03-10T18:00:00.000Z");

    // A deleted default stays deleted across restarts.
    expect((await api.remove("validate-models")).deleted).toBe(true);
    await s.close();
    const again = await start(clock, { SCHEDULES_TENANT: "system,acme" });
    expect((await again.api.list()).map((x) => x.name).sort()).toEqual(["cleanup-expired-results", "train-all-products"]);
  });

  it("API: create, get, patch, delete; bad cron or time zone is INVALID_ARGUMENT naming the field", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-05T10:00:00Z"));
    const { api } = await start(clock, { SEED_DEFAULT_SCHEDULES: "false" });

    const created = await api.upsert({ name: "reports", cron: "30 8 * * MON-FRI", timezone: "Europe/Berlin", kind: "maintenance", payload: { action: "build_reports" } }, { createOnly: true });
    expect(created).toMatchObject({ tenant: "system", name: "reports", enabled: true, queue: "default", catchUp: "skip" });
    // 08:30 Berlin (+01:00) is 07:30Z; at 10:00Z Monday's has passed, so Tuesday.
    expect(iso(created.nextFireAtMs)).toBe("2026-01-06T07:30:00.000Z");
    await expectRejects(api.upsert({ name: "reports", cron: "0 1 * * *", kind: "maintenance", payload: { action: "x" } }, { createOnly: true }), ConflictError);

    // enabled is taken as sent, unless `fields` lists the keys sent and leaves it out.
    const paused = await api.upsert({ name: "paused", cron: "0 1 * * *", kind: "maintenance", payload: { action: "x" }, enabled: false }, { createOnly: true });
    expect(paused).toMatchObject({ enabled: false, nextFireAtMs: 0 });
    const listed = await api.upsert({ name: "listed", cron: "0 1 * * *", kind: "maintenance", payload: { action: "x" }, enabled: false }, { createOnly: true, fields: ["name", "cron", "kind", "payload"] });
    expect(listed.enabled).toBe(true);

    await expectRejects(api.upsert({ name: "bad", cron: "61 * * * *", kind: "maintenance", payload: { action: "x" } }, { createOnly: true }), ValidationError, "cron", /minute value 61/);
    await expectRejects(api.upsert({ name: "bad", cron: "0 2 * * *", timezone: "Mars/Base", kind: "maintenance", payload: { action: "x" } }), ValidationError, "timezone", /Mars\/Base/);
    await expectRejects(api.upsert({ name: "bad", cron: "0 0 30 2 *", kind: "maintenance", payload: { action: "x" } }), ValidationError, "cron", /never fires/);
    await expectRejects(api.upsert({ name: "bad", cron: "0 2 * * *", kind: "mine_bitcoin" }), ValidationError, "kind");
    await expectRejects(api.upsert({ name: "bad", cron: "0 2 * * *", kind: "maintenance", payload: {} }), ValidationError, "payload");
    await expectRejects(api.upsert({ name: "bad", cron: "0 2 * * *", kind: "train_all_products", queue: "urgent" }), ValidationError, "queue");
    await expectRejects(api.upsert({ name: "bad", cron: "0 2 * * *", kind: "train_all_products", catchUp: "always" }), ValidationError, "catch_up");
    await expectRejects(api.upsert({ name: "has space", cron: "0 2 * * *", kind: "train_all_products" }), ValidationError, "name");
    await expectRejects(api.upsert({ name: "bad", kind: "train_all_products" }), ValidationError, "cron");

    // PATCH: only the listed fields change; switching to an interval clears the cron.
    const patched = await api.upsert({ name: "reports", intervalSeconds: 600, enabled: false }, { patch: true, fields: ["interval_seconds", "enabled"] });
    expect(patched).toMatchObject({ cron: "", intervalSeconds: 600, enabled: false, timezone: "Europe/Berlin", nextFireAtMs: 0 });
    const enabled = await api.upsert({ name: "reports", enabled: true }, { patch: true, fields: ["enabled"] });
    expect(enabled.nextFireAtMs).toBe(at("2026-01-05T10:10:00Z")); // anchored at creation, every 10 min
    await expectRejects(api.upsert({ name: "reports", timezone: "Not/AZone" }, { patch: true, fields: ["timezone"] }), ValidationError, "timezone");
    await expectRejects(api.upsert({ name: "ghost", enabled: true }, { patch: true, fields: ["enabled"] }), NotFoundError);

    expect((await api.get("reports")).intervalSeconds).toBe(600);
    await expectRejects(api.get("ghost"), NotFoundError);
    await expectRejects(api.runs("ghost"), NotFoundError);
    expect((await api.remove("reports")).deleted).toBe(true);
    expect((await api.remove("reports")).deleted).toBe(false);
  });

  it("caps schedules per tenant: concurrent creates stop at the quota, other tenants and edits are unaffected", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-05T10:00:00Z"));
    const { api } = await start(clock, { SEED_DEFAULT_SCHEDULES: "false", SCHEDULES_MAX_PER_TENANT: "3" });
    const make = (name: string, tenant = "acme") => api.upsert({ tenant, name, cron: "0 1 * * *", kind: "maintenance", payload: { action: "x" } }, { createOnly: true });
    // Eight creates at once: the per-tenant lock lets exactly three in.
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => make(`s${i}`)));
    expect(outcomes.filter((o) => o.status === "fulfilled").length).toBe(3);
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected").map((o) => o.reason);
    expect(refused.length).toBe(5);
    for (const err of refused) {
      expect(err).toBeInstanceOf(QuotaExceededError);
      expect(err).toMatchObject({ code: "QUOTA_EXCEEDED", httpStatus: 409, details: { limit: 3 } });
    }
    expect((await api.list("acme")).length).toBe(3);
    // An upsert without createOnly of a new name is a create too.
    await expectRejects(api.upsert({ tenant: "acme", name: "extra", cron: "0 1 * * *", kind: "maintenance", payload: { action: "x" } }), QuotaExceededError, "name", /most allowed is 3/);
    // Editing a schedule the tenant already has is not a create.
    const [first] = await api.list("acme");
    expect((await api.upsert({ tenant: "acme", name: first.name, enabled: false }, { patch: true, fields: ["enabled"] })).enabled).toBe(false);
    // Another tenant has its own quota; a delete frees a slot.
    expect((await make("s0", "other")).tenant).toBe("other");
    expect((await api.remove(first.name, "acme")).deleted).toBe(true);
    expect((await make("again")).name).toBe("again");
  });

  it("fires a due instant once, at the cron instant; records the run and follows its task to SUCCESS", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-10T01:00:00Z"));
    const { s, api } = await start(clock);
    expect(s.isLeader()).toBe(true);

    clock.set(at("2026-01-10T02:00:00.700Z"));
    await s.tick();
    await s.tick();
    const taskId = scheduleTaskId("system", "train-all-products", at("2026-01-10T02:00:00Z"));
    expect(e.status.creates.map((c) => c.job!.taskId)).toEqual([taskId]);
    const job = e.status.creates[0].job!;
    expect(job).toMatchObject({ tenant: "system", kind: "train_all_products", queue: "batch", name: "train-all-products", payload: { $case: "trainAllProducts", value: { productSkus: [] } } });
    expect(e.status.creates[0].idempotencyKey).toBe(taskId);
    const stream = await jobsOnStream(e.fx);
    expect(stream.map((m) => m.msgId)).toEqual([taskId]);
    expect(stream[0].job.taskId).toBe(taskId);

    let [run] = await api.runs("train-all-products");
    expect(run).toMatchObject({ schedule: "train-all-products", scheduledForMs: at("2026-01-10T02:00:00Z"), firedAtMs: at("2026-01-10T02:00:00.700Z"), taskId, state: "PENDING" });
    const sched = await api.get("train-all-products");
    expect(iso(sched.nextFireAtMs)).toBe("2026-01-11T02:00:00.000Z");
    expect(iso(sched.lastFireAtMs)).toBe("2026-01-10T02:00:00.000Z");

    // The trainer finishes; the next run poll copies state, duration, summary.
    e.status.finish(taskId, {
      state: TaskState.SUCCESS,
      startedAtMs: at("2026-01-10T02:00:01Z"),
      finishedAtMs: at("2026-01-10T02:03:01Z"),
      resultJson: Buffer.from(JSON.stringify({ trained: 2, failed: 0, products: ["SKU-1", "SKU-2"], note: "x".repeat(500) })),
    });
    clock.advance(5_000);
    await s.tick();
    [run] = await api.runs("train-all-products");
    expect(run).toMatchObject({ state: "SUCCESS", durationMs: 180_000, error: "" });
    expect(run.resultSummary).toMatchObject({ trained: 2, failed: 0, products: { items: 2 } });
    expect(String(run.resultSummary!.note).length).toBeLessThan(210);
    expect(e.status.creates).toHaveLength(1);
  });

  it("keeps a schedule's job options in Postgres and gives every fire's job them, start_by counted from the fire", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-10T01:00:00Z"));
    const { s, api } = await start(clock);
    const jobOptions = { retry: { maxAttempts: 2, initialMs: 1_000, factor: 2, maxMs: 0, jitter: 0 }, timeLimits: { softMs: 0, hardMs: 30_000 }, startWithinMs: 600_000 };
    await api.upsert({ name: "guarded", cron: "0 4 * * *", kind: "maintenance", payload: { action: "validate_models" }, jobOptions }, { createOnly: true });
    expect((await api.get("guarded")).jobOptions).toEqual(jobOptions);

    clock.set(at("2026-01-10T04:00:02Z"));
    await s.tick();
    await s.tick();
    const job = e.status.creates.find((c) => c.job!.name === "guarded")!.job!;
    expect(job.retry).toEqual(jobOptions.retry);
    expect(job.timeLimits).toEqual(jobOptions.timeLimits);
    expect(job.startByMs).toBe(at("2026-01-10T04:00:02Z") + 600_000);

    // A PATCH sets the options it lists over the stored ones; a listed one left unset clears it.
    await api.upsert({ name: "guarded", jobOptions: { startWithinMs: 60_000, retry: undefined, timeLimits: undefined } }, { patch: true, fields: ["start_within_ms", "retry"] });
    const patched = await api.get("guarded");
    expect(patched.jobOptions).toEqual({ retry: undefined, timeLimits: jobOptions.timeLimits, startWithinMs: 60_000 });
    expect(patched.cron).toBe("0 4 * * *");
  });

  it("records a failed task's error, and closes runs whose task expired", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-10T02:59:59Z"));
    const { s, api } = await start(clock);
    clock.set(at("2026-01-10T03:00:00Z"));
    await s.tick();
    const taskId = scheduleTaskId("system", "cleanup-expired-results", at("2026-01-10T03:00:00Z"));
    e.status.finish(taskId, { state: TaskState.FAILURE, finishedAtMs: at("2026-01-10T03:00:02Z"), error: { type: "DependencyUnavailableError", message: "object store down", code: "X", retryable: true } });
    clock.advance(5_000);
    await s.tick();
    const [run] = await api.runs("cleanup-expired-results");
    expect(run).toMatchObject({ state: "FAILURE", error: "DependencyUnavailableError: object store down", durationMs: 2_000 });

    // A task whose results expired before its outcome was seen (410) closes the run too.
    clock.set(at("2026-01-11T03:00:00Z"));
    await s.tick();
    e.status.expired.add(scheduleTaskId("system", "cleanup-expired-results", at("2026-01-11T03:00:00Z")));
    clock.advance(5_000);
    await s.tick();
    const [gone] = await api.runs("cleanup-expired-results");
    expect(gone).toMatchObject({ scheduledForMs: at("2026-01-11T03:00:00Z"), state: "FAILURE" });
    expect(gone.error).toMatch(/expired/);
  });

  it("fires a New York 02:30 schedule at 03:00 EDT on the spring-forward night", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-03-08T05:00:00Z"));
    const { s, api } = await start(clock, { SEED_DEFAULT_SCHEDULES: "false" });
    const sched = await api.upsert({ name: "ny", cron: "30 2 * * *", timezone: "America/New_York", kind: "maintenance", payload: { action: "validate_models" } });
    expect(iso(sched.nextFireAtMs)).toBe("2026-03-08T07:00:00.000Z");
    clock.set(at("2026-03-08T07:00:00.200Z"));
    await s.tick();
    expect(e.status.creates.map((c) => c.job!.taskId)).toEqual([scheduleTaskId("system", "ny", at("2026-03-08T07:00:00Z"))]);
    expect(iso((await api.get("ny")).nextFireAtMs)).toBe("2026-03-09T06:30:00.000Z");
  });

  it("two schedulers on one database: one leads, the other never fires; a stale leader is fenced off", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-10T01:00:00Z"));
    const a = await start(clock, { SCHEDULER_ID: "a" });
    const b = await start(clock, { SCHEDULER_ID: "b" });
    expect(a.s.isLeader()).toBe(true);
    expect(b.s.isLeader()).toBe(false);
    expect(await a.api.ping()).toBe(true);
    expect(await b.api.ping()).toBe(false);

    clock.set(at("2026-01-10T02:00:00Z"));
    await a.s.tick();
    await Promise.all([a.s.tick(), b.s.tick(), a.s.tick(), b.s.tick()]);
    expect(b.s.isLeader()).toBe(false);
    expect(e.status.creates).toHaveLength(1);

    // a stops renewing (a long pause) and its lease (TTL 30 s) runs out; b takes over.
    clock.set(at("2026-01-10T02:59:50Z"));
    await b.s.tick();
    expect(b.s.isLeader()).toBe(true);
    // 03:00 is due. a wakes up; its compare-and-set on the old revision fails, so it does not fire.
    clock.set(at("2026-01-10T03:00:00Z"));
    await a.s.tick();
    expect(a.s.isLeader()).toBe(false);
    expect(e.status.creates).toHaveLength(1);
    await b.s.tick();
    expect(e.status.creates.map((c) => c.job!.name)).toEqual(["train-all-products", "cleanup-expired-results"]);
  });

  it("never fires an instant that already has a run row (the second line of defence)", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-10T01:00:00Z"));
    const { s, api } = await start(clock);
    // Another writer (say, a leader fenced too late) recorded 02:00 already.
    await e.db.pool.query(
      `insert into schedule_runs (tenant, schedule, scheduled_for, fired_at, task_id, trigger, state, job, updated_at)
       values ('system', 'train-all-products', $1, $1, 'other-task', 'schedule', 'PENDING', '\\x', $1)`,
      [new Date(at("2026-01-10T02:00:00Z"))],
    );
    clock.set(at("2026-01-10T02:00:01Z"));
    await s.tick();
    expect(e.status.creates).toHaveLength(0);
    expect(iso((await api.get("train-all-products")).nextFireAtMs)).toBe("2026-01-11T02:00:00.000Z");
  });

  it("catch-up after downtime: skip drops missed fires, run_once runs the latest once", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-10T10:30:00Z"));
    const first = await start(clock, { SEED_DEFAULT_SCHEDULES: "false" });
    for (const [name, catchUp] of [
      ["hourly-skip", "skip"],
      ["hourly-once", "run_once"],
    ]) {
      await first.api.upsert({ name, cron: "0 * * * *", kind: "maintenance", payload: { action: "validate_models" }, catchUp });
    }
    await first.s.close();

    // Down from 10:30 to 15:30: 11:00 .. 15:00 were missed.
    clock.set(at("2026-01-10T15:30:00Z"));
    const { s, api } = await start(clock);
    await s.tick();
    expect(await api.runs("hourly-skip")).toEqual([]);
    const runs = await api.runs("hourly-once");
    expect(runs.map((r) => iso(r.scheduledForMs))).toEqual(["2026-01-10T15:00:00.000Z"]);
    expect(e.status.creates).toHaveLength(1);
    for (const name of ["hourly-skip", "hourly-once"]) expect(iso((await api.get(name)).nextFireAtMs)).toBe("2026-01-10T16:00:00.000Z");

    // Within the grace period a late fire is just late, whatever the policy.
    clock.set(at("2026-01-10T16:00:40Z"));
    await s.tick();
    expect((await api.runs("hourly-skip")).map((r) => iso(r.scheduledForMs))).toEqual(["2026-01-10T16:00:00.000Z"]);
  });

  it("trigger runs a schedule now; a failed submission is retried until it lands", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-10T12:00:00Z"));
    const { s, api } = await start(clock);
    e.status.failCreates = true;
    const run = await api.trigger("validate-models");
    expect(run).toMatchObject({ schedule: "validate-models", scheduledForMs: at("2026-01-10T12:00:00Z"), state: "SCHEDULED" });
    expect(run.error).toMatch(/unavailable/i);
    expect(await jobsOnStream(e.fx)).toEqual([]);

    e.status.failCreates = false;
    clock.advance(4_000);
    await s.tick();
    expect(e.status.creates).toHaveLength(0); // still backing off
    clock.advance(2_000);
    await s.tick();
    expect(e.status.creates.map((c) => c.job!.taskId)).toEqual([run.taskId]);
    const [after] = await api.runs("validate-models");
    expect(after).toMatchObject({ taskId: run.taskId, state: "PENDING", error: "" });
    expect((await jobsOnStream(e.fx)).map((m) => m.msgId)).toEqual([run.taskId]);
    expect((await api.get("validate-models")).lastFireAtMs).toBe(at("2026-01-10T12:00:00Z"));
    await expectRejects(api.trigger("ghost"), NotFoundError);
  });

  it("close() releases the lease so a second replica leads at once", async () => {
    e = await schedulerEnv();
    const clock = new ManualClock(at("2026-01-10T12:00:00Z"));
    const a = await start(clock, { SCHEDULER_ID: "a" });
    const b = await start(clock, { SCHEDULER_ID: "b" });
    expect(a.s.isLeader()).toBe(true);
    await a.s.close();
    await b.s.tick();
    await waitFor(() => b.s.isLeader(), { what: "b to lead" });
  });
});
