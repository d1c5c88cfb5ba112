// SchedulerService (proto/millrace/v1/scheduler.proto). The gateway serves
// /v1/schedules over it; ValidationError with field cron / timezone / ...
// becomes INVALID_ARGUMENT, which the gateway answers with 400.
import { ScheduleJobOptions, type Schedule, type ScheduleRun, type SchedulerServiceServer } from "@millrace/contracts";
import { ConflictError, NotFoundError, ValidationError, isQueue, unary, type Clock, type Logger } from "@millrace/runtime";
import { buildJob, type Firing } from "./firing";
import type { CatchUp, RunRow, ScheduleInput, ScheduleRow, ScheduleStore } from "./store";
import { nextFireFrom, timingOf } from "./timing";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const DEFAULT_QUEUE = "default";
const DEFAULT_TIMEZONE = "UTC";
const DEFAULT_CATCH_UP: CatchUp = "skip";
const MAX_RUNS = 500;

/** Proto field names a PATCH may list (snake_case or camelCase). */
const PATCHABLE = ["cron", "interval_seconds", "timezone", "kind", "payload", "enabled", "queue", "catch_up", "retry", "time_limits", "start_within_ms"] as const;
type Patchable = (typeof PATCHABLE)[number];

function normaliseField(f: string): string {
  return f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Checks everything about a schedule a client can get wrong; errors name the field. */
export function validateSchedule(s: ScheduleInput): void {
  if (!NAME_RE.test(s.name)) throw new ValidationError(`invalid schedule name "${s.name}": use letters, digits, ".", "_" or "-" (at most 100)`, { field: "name" });
  timingOf({ cron: s.cron, intervalSeconds: s.intervalSeconds, timezone: s.timezone, anchorMs: 0 });
  if (!isQueue(s.queue)) throw new ValidationError(`unknown queue "${s.queue}" (default, high or batch)`, { field: "queue" });
  if (s.catchUp !== "skip" && s.catchUp !== "run_once") throw new ValidationError(`catch_up must be "skip" or "run_once", not "${s.catchUp}"`, { field: "catch_up" });
  buildJob({ tenant: "", name: s.name, kind: s.kind, payload: s.payload, queue: s.queue }, "validation", 0);
}

export function toProtoSchedule(s: ScheduleRow): Schedule {
  return {
    tenant: s.tenant,
    name: s.name,
    cron: s.cron,
    intervalSeconds: s.intervalSeconds,
    timezone: s.timezone,
    kind: s.kind,
    payload: s.payload,
    enabled: s.enabled,
    queue: s.queue,
    catchUp: s.catchUp,
    jobOptions: s.jobOptions,
    nextFireAtMs: s.nextFireAtMs ?? 0,
    lastFireAtMs: s.lastFireAtMs ?? 0,
    createdAtMs: s.createdAtMs,
    updatedAtMs: s.updatedAtMs,
  };
}

export function toProtoRun(r: RunRow): ScheduleRun {
  return {
    schedule: r.schedule,
    scheduledForMs: r.scheduledForMs,
    firedAtMs: r.firedAtMs,
    taskId: r.taskId,
    state: r.state,
    durationMs: r.durationMs ?? 0,
    resultSummary: r.resultSummary ?? undefined,
    error: r.error ?? "",
  };
}

/**
 * Settings for create or full replace; empty strings take the defaults. When
 * `fields` is empty, `enabled` is taken as sent (the gateway resolves its
 * default). When `fields` lists the keys the client sent, an unlisted
 * `enabled` means true: proto3 cannot tell false from unset.
 */
function inputForCreate(p: Schedule, fields: Set<string>): ScheduleInput {
  return {
    name: p.name,
    cron: p.cron.trim(),
    intervalSeconds: p.intervalSeconds,
    timezone: p.timezone || DEFAULT_TIMEZONE,
    kind: p.kind,
    payload: p.payload ?? {},
    enabled: fields.size === 0 || fields.has("enabled") ? p.enabled : true,
    queue: p.queue || DEFAULT_QUEUE,
    catchUp: (p.catchUp || DEFAULT_CATCH_UP) as CatchUp,
    jobOptions: p.jobOptions,
  };
}

/** A PATCH: the listed fields (or, when none are listed, the non-empty ones) over the stored schedule. */
function inputForPatch(current: ScheduleRow, p: Schedule, fieldList: string[]): ScheduleInput {
  const listed = new Set(fieldList.map(normaliseField));
  for (const f of listed) {
    if (f !== "name" && f !== "tenant" && !(PATCHABLE as readonly string[]).includes(f)) throw new ValidationError(`field "${f}" cannot be changed`, { field: f });
  }
  const set = (f: Patchable, nonEmpty: boolean) => (listed.size ? listed.has(f) : nonEmpty);
  const next: ScheduleInput = { ...current, payload: current.payload };
  const setsCron = set("cron", p.cron.trim() !== "");
  const setsInterval = set("interval_seconds", p.intervalSeconds > 0);
  if (setsCron) next.cron = p.cron.trim();
  if (setsInterval) next.intervalSeconds = p.intervalSeconds;
  // Switching between cron and interval clears the other one.
  if (setsCron && !setsInterval && next.cron !== "") next.intervalSeconds = 0;
  if (setsInterval && !setsCron && next.intervalSeconds > 0) next.cron = "";
  if (set("timezone", p.timezone !== "")) next.timezone = p.timezone || DEFAULT_TIMEZONE;
  if (set("kind", p.kind !== "")) next.kind = p.kind;
  if (set("payload", p.payload !== undefined)) next.payload = p.payload ?? {};
  if (listed.has("enabled")) next.enabled = p.enabled;
  if (set("queue", p.queue !== "")) next.queue = p.queue || DEFAULT_QUEUE;
  if (set("catch_up", p.catchUp !== "")) next.catchUp = (p.catchUp || DEFAULT_CATCH_UP) as CatchUp;
  // The job options one by one, as the fields above: a listed one left unset clears it.
  const o = { ...(current.jobOptions ?? ScheduleJobOptions.fromPartial({})) };
  if (set("retry", p.jobOptions?.retry !== undefined)) o.retry = p.jobOptions?.retry;
  if (set("time_limits", p.jobOptions?.timeLimits !== undefined)) o.timeLimits = p.jobOptions?.timeLimits;
  if (set("start_within_ms", Number(p.jobOptions?.startWithinMs ?? 0) > 0)) o.startWithinMs = p.jobOptions?.startWithinMs ?? 0;
  next.jobOptions = o;
  return next;
}

export interface SchedulerServiceDeps {
  store: ScheduleStore;
  firing: Firing;
  clock: Clock;
  logger: Logger;
  defaultTenant: string;
  isLeader: () => boolean;
  /** Schedules one tenant may hold (SCHEDULES_MAX_PER_TENANT). */
  maxPerTenant?: number;
}

export function createSchedulerService(d: SchedulerServiceDeps): SchedulerServiceServer {
  const tenantOf = (t: string) => t || d.defaultTenant;
  const mustGet = async (tenant: string, name: string): Promise<ScheduleRow> => {
    const s = await d.store.get(tenant, name);
    if (!s) throw new NotFoundError(`schedule "${name}" not found`, { field: "name" });
    return s;
  };

  return {
    listSchedules: unary(async (req) => ({ schedules: (await d.store.list(tenantOf(req.tenant))).map(toProtoSchedule) })),

    getSchedule: unary(async (req) => toProtoSchedule(await mustGet(tenantOf(req.tenant), req.name))),

    upsertSchedule: unary(async (req) => {
      const p = req.schedule;
      if (!p) throw new ValidationError("schedule is required", { field: "schedule" });
      const tenant = tenantOf(p.tenant);
      const now = d.clock.now();
      const current = await d.store.get(tenant, p.name);
      if (req.createOnly && current) throw new ConflictError(`schedule "${p.name}" already exists`, { field: "name" });
      if (req.patch && !current) throw new NotFoundError(`schedule "${p.name}" not found`, { field: "name" });

      const input = req.patch && current ? inputForPatch(current, p, req.fields) : inputForCreate(p, new Set(req.fields.map(normaliseField)));
      validateSchedule(input);
      const createdAtMs = current?.createdAtMs ?? now;
      // Keep the cursor unless something that decides fire times changed.
      const retimed =
        !current || current.cron !== input.cron || current.intervalSeconds !== input.intervalSeconds || current.timezone !== input.timezone || current.enabled !== input.enabled;
      const row: ScheduleRow = {
        ...input,
        tenant,
        createdAtMs,
        updatedAtMs: now,
        lastFireAtMs: current?.lastFireAtMs ?? null,
        nextFireAtMs: retimed || !current ? nextFireFrom({ ...input, createdAtMs }, now) : current.nextFireAtMs,
      };
      if (current) {
        if (!(await d.store.update(row))) throw new NotFoundError(`schedule "${p.name}" not found`, { field: "name" });
      } else if (!(await d.store.insert(row, d.maxPerTenant))) {
        throw new ConflictError(`schedule "${p.name}" already exists`, { field: "name" });
      }
      d.logger.info({ tenant, schedule: row.name, next_fire_at: row.nextFireAtMs && new Date(row.nextFireAtMs).toISOString(), created: !current }, "schedule saved");
      return toProtoSchedule((await d.store.get(tenant, row.name)) ?? row);
    }),

    deleteSchedule: unary(async (req) => {
      const deleted = await d.store.delete(tenantOf(req.tenant), req.name);
      if (deleted) d.logger.info({ tenant: tenantOf(req.tenant), schedule: req.name }, "schedule deleted");
      return { deleted };
    }),

    triggerSchedule: unary(async (req) => {
      const s = await mustGet(tenantOf(req.tenant), req.name);
      return toProtoRun(await d.firing.trigger(s));
    }),

    listRuns: unary(async (req) => {
      const tenant = tenantOf(req.tenant);
      await mustGet(tenant, req.name);
      const limit = Math.min(MAX_RUNS, req.limit || 50);
      return { runs: (await d.store.listRuns(tenant, req.name, limit)).map(toProtoRun) };
    }),

    ping: unary(async () => ({ leader: d.isLeader() })),
  };
}
