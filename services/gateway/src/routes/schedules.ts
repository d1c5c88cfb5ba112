// Schedules, proxied to the SchedulerService (snake_case over HTTP).
// A schedule fires `kind` with `payload` (the same fields as that kind's own
// endpoint, validated here and stored as the kind's proto JSON, which the
// scheduler decodes) by `cron` (in `timezone`) or every `interval_seconds`.
import { Hono } from "hono";
import type { RetryPolicy, Schedule, ScheduleJobOptions, ScheduleRun, TimeLimits } from "@millrace/contracts";
import { NotFoundError, QUEUES, ValidationError, call, isJobKind, isQueue, z } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { schedulePayload, schedulePayloadView } from "../job-bodies";
import { iso, taskLinks } from "../task-view";
import { jobOptions, jobOptionsShape, parseWith, queryInt, readJsonObject } from "../validation";

// The scheduler's own rule for names.
const SCHEDULE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const scheduleNameSchema = z.string().regex(SCHEDULE_NAME_RE, "letters, digits, '.', '_' or '-', at most 100, starting with a letter or digit");

const CRON_FIELD = /^[0-9A-Za-z*?/,#LW-]+$/;
const cronSchema = z.string().refine((s) => {
  const parts = s.trim().split(/\s+/);
  return (parts.length === 5 || parts.length === 6) && parts.every((p) => CRON_FIELD.test(p));
}, "must be a cron expression of 5 or 6 fields");
const timezoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, "must be an IANA time zone such as UTC or Europe/Berlin");

const fields = {
  cron: cronSchema,
  interval_seconds: z.number().int().min(1).max(366 * 86_400),
  timezone: timezoneSchema,
  kind: z.string().refine(isJobKind, "must be a task type"),
  payload: z.record(z.unknown()),
  enabled: z.boolean(),
  queue: z.string().refine(isQueue, `must be one of ${QUEUES.join(", ")}`),
  catch_up: z.enum(["skip", "run_once"], { errorMap: () => ({ message: "must be skip or run_once" }) }),
  // Every fire's job gets these, as a task-creating POST would; null clears one in a PATCH.
  retry: jobOptionsShape.retry.nullable(),
  time_limits: jobOptionsShape.time_limits.nullable(),
  start_within_ms: jobOptionsShape.start_within_ms.nullable(),
};
/** What a GET shows that no request sets. */
const READ_ONLY = ["next_fire_at", "last_fire_at", "created_at", "updated_at"] as const;
const optionalFields = z.object(fields).partial().strict();
type Fields = z.infer<typeof optionalFields>;

const createBody = optionalFields
  .extend({ name: scheduleNameSchema, kind: fields.kind })
  .refine((b) => Boolean(b.cron) !== Boolean(b.interval_seconds), { message: "give exactly one of cron or interval_seconds", path: ["cron"] });
const patchBody = optionalFields;

const nonZero = (o: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0));

function retryJson(r: RetryPolicy | undefined): Record<string, number> | null {
  if (!r) return null;
  return nonZero({ max_attempts: r.maxAttempts, initial_ms: r.initialMs, factor: r.factor, max_ms: r.maxMs, jitter: r.jitter });
}

function timeLimitsJson(t: TimeLimits | undefined): Record<string, number> | null {
  return t ? nonZero({ soft_ms: t.softMs, hard_ms: t.hardMs }) : null;
}

/**
 * The body's job options as the proto carries them; null (clear) and absent
 * both travel as unset. Which ones a PATCH changes is in its field list: the
 * scheduler sets the listed ones over the stored ones, as for every field.
 */
function scheduleJobOptions(b: Fields): ScheduleJobOptions {
  const o = jobOptions({ retry: b.retry ?? undefined, time_limits: b.time_limits ?? undefined, start_within_ms: b.start_within_ms ?? undefined });
  return { retry: o.retry, timeLimits: o.timeLimits, startWithinMs: o.startWithinMs ?? 0 };
}

export function scheduleJson(s: Schedule): Record<string, unknown> {
  return {
    name: s.name,
    cron: s.cron || null,
    interval_seconds: s.intervalSeconds || null,
    timezone: s.timezone || "UTC",
    kind: s.kind,
    payload: schedulePayloadView(s.kind, s.payload ?? {}),
    enabled: s.enabled,
    queue: s.queue || "default",
    catch_up: s.catchUp || "skip",
    retry: retryJson(s.jobOptions?.retry),
    time_limits: timeLimitsJson(s.jobOptions?.timeLimits),
    start_within_ms: Number(s.jobOptions?.startWithinMs ?? 0) || null,
    next_fire_at: iso(s.nextFireAtMs),
    last_fire_at: iso(s.lastFireAtMs),
    created_at: iso(s.createdAtMs),
    updated_at: iso(s.updatedAtMs),
  };
}

export function runJson(r: ScheduleRun): Record<string, unknown> {
  return {
    schedule: r.schedule,
    task_id: r.taskId || null,
    state: r.state,
    scheduled_for: iso(r.scheduledForMs),
    fired_at: iso(r.firedAtMs),
    duration_ms: r.durationMs || null,
    result_summary: r.resultSummary ?? null,
    error: r.error || null,
  };
}

function toSchedule(tenant: string, name: string, b: Fields): Schedule {
  return {
    tenant,
    name,
    cron: b.cron?.trim() ?? "",
    intervalSeconds: b.interval_seconds ?? 0,
    timezone: b.timezone ?? "",
    kind: b.kind ?? "",
    payload: b.payload,
    enabled: b.enabled ?? false,
    queue: b.queue ?? "",
    catchUp: b.catch_up ?? "",
    jobOptions: scheduleJobOptions(b),
    nextFireAtMs: 0,
    lastFireAtMs: 0,
    createdAtMs: 0,
    updatedAtMs: 0,
  };
}

function scheduleName(raw: string): string {
  if (!SCHEDULE_NAME_RE.test(raw)) throw new ValidationError("name: not a schedule name", { field: "name" });
  return raw;
}

export function scheduleRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const s = deps.scheduler;
  const max = deps.config.MAX_INSTANCES;

  app.get("/schedules", async (c) => {
    const r = await call(s, s.listSchedules, { tenant: c.get("tenant") }, 10_000, "scheduler");
    return c.json({ schedules: r.schedules.map(scheduleJson) });
  });

  app.post("/schedules", async (c) => {
    const b = parseWith(createBody, await readJsonObject(c, deps.config.MAX_BODY_BYTES));
    const payload = schedulePayload(b.kind, b.payload ?? {}, max);
    const schedule = toSchedule(c.get("tenant"), b.name, {
      ...b,
      payload,
      timezone: b.timezone ?? "UTC",
      enabled: b.enabled ?? true,
      queue: b.queue ?? "default",
      catch_up: b.catch_up ?? "skip",
    });
    const created = await call(s, s.upsertSchedule, { schedule, createOnly: true, patch: false, fields: [] }, 10_000, "scheduler");
    return c.json(scheduleJson(created), 201, { Location: `/v1/schedules/${created.name}` });
  });

  app.get("/schedules/:name", async (c) => {
    const r = await call(s, s.getSchedule, { tenant: c.get("tenant"), name: scheduleName(c.req.param("name")) }, 10_000, "scheduler");
    return c.json(scheduleJson(r));
  });

  app.patch("/schedules/:name", async (c) => {
    const tenant = c.get("tenant");
    const name = scheduleName(c.req.param("name"));
    const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES);
    if ("name" in raw && raw.name !== name) throw new ValidationError("name: a schedule cannot be renamed", { field: "name" });
    // A GET's body PATCHed back names the schedule and carries its cursor and stamps: the name may stay, the rest is not the client's to set.
    const { name: _sameName, ...settings } = raw;
    for (const k of READ_ONLY) if (k in settings) throw new ValidationError(`${k}: read-only, kept by the scheduler`, { field: k });
    const b = parseWith(patchBody, settings) as Fields;
    const present = (Object.keys(fields) as (keyof typeof fields)[]).filter((k) => b[k] !== undefined);
    if (present.length === 0) throw new ValidationError(`body: give at least one of ${Object.keys(fields).join(", ")}`, { field: "body" });
    if (b.kind !== undefined && b.payload === undefined) {
      throw new ValidationError("payload: changing kind needs the payload for the new kind", { field: "payload" });
    }
    if (b.payload !== undefined) {
      // The payload must fit the kind, new or stored.
      const kind = b.kind ?? (await call(s, s.getSchedule, { tenant, name }, 10_000, "scheduler")).kind;
      b.payload = schedulePayload(kind, b.payload, max);
    }
    const updated = await call(s, s.upsertSchedule, { schedule: toSchedule(tenant, name, b), createOnly: false, patch: true, fields: present }, 10_000, "scheduler");
    return c.json(scheduleJson(updated));
  });

  app.delete("/schedules/:name", async (c) => {
    const name = scheduleName(c.req.param("name"));
    const r = await call(s, s.deleteSchedule, { tenant: c.get("tenant"), name }, 10_000, "scheduler");
    if (!r.deleted) throw new NotFoundError(`no schedule '${name}'`, { field: "name" });
    return c.json({ name, deleted: true });
  });

  app.post("/schedules/:name/trigger", async (c) => {
    const run = await call(s, s.triggerSchedule, { tenant: c.get("tenant"), name: scheduleName(c.req.param("name")) }, 10_000, "scheduler");
    if (run.taskId) c.set("taskId", run.taskId);
    return c.json({ ...runJson(run), ...(run.taskId ? taskLinks(run.taskId) : {}) }, 202);
  });

  app.get("/schedules/:name/runs", async (c) => {
    const limit = queryInt(c.req.query("limit"), "limit", 50, 1, 500);
    const r = await call(s, s.listRuns, { tenant: c.get("tenant"), name: scheduleName(c.req.param("name")), limit }, 10_000, "scheduler");
    return c.json({ runs: r.runs.map(runJson) });
  });

  return app;
}
