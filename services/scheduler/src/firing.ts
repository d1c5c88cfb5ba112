// Turning due schedule instants into tasks, exactly once: the leader claims an
// instant in Postgres (cursor move + run row, unique per instant), then creates
// the task through the status service and publishes its job with the task id
// as Nats-Msg-Id. Every id is derived from (tenant, schedule, instant), so any
// repeat of these steps, by this or another replica, lands on the same task.
import { createHash } from "node:crypto";
import type { JetStreamClient } from "nats";
import {
  ExplainJob,
  ForecastJob,
  Job,
  MaintenanceJob,
  PipelineJob,
  PredictJob,
  TaskState,
  TrainAllProductsJob,
  TrainJob,
  TrainProductJob,
  WorkflowJob,
  type StatusServiceClient,
} from "@millrace/contracts";
import {
  ValidationError,
  call,
  errorMessage,
  isJobKind,
  publishJob,
  startByAt,
  stateName,
  type Clock,
  type Logger,
  type Topology,
} from "@millrace/runtime";
import { SCHEDULED, type RunKey, type RunRow, type RunTrigger, type ScheduleRow, type ScheduleStore } from "./store";
import { lastFireAtOrBefore, nextFireAfter, timingOf } from "./timing";

/** `sched-` + a UUID-shaped digest of tenant/name/instant: the same instant always gets the same task. */
export function scheduleTaskId(tenant: string, name: string, scheduledForMs: number): string {
  const h = createHash("sha256").update(`${tenant}/${name}/${scheduledForMs}`).digest("hex");
  return `sched-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The job payload for a kind, from the schedule's JSON payload (proto JSON names, snake or camel case). */
export function jobPayload(kind: string, payload: Record<string, unknown>): Job["payload"] {
  switch (kind) {
    case "train":
      return { $case: "train", value: TrainJob.fromJSON(payload) };
    case "predict":
      return { $case: "predict", value: PredictJob.fromJSON(payload) };
    case "explain":
      return { $case: "explain", value: ExplainJob.fromJSON(payload) };
    case "pipeline":
      return { $case: "pipeline", value: PipelineJob.fromJSON(payload) };
    case "forecast":
      return { $case: "forecast", value: ForecastJob.fromJSON(payload) };
    case "train_product":
      return { $case: "trainProduct", value: TrainProductJob.fromJSON(payload) };
    case "train_all_products":
      return { $case: "trainAllProducts", value: TrainAllProductsJob.fromJSON(payload) };
    case "maintenance": {
      const value = MaintenanceJob.fromJSON(payload);
      if (!value.action) throw new ValidationError("a maintenance schedule needs payload.action, e.g. cleanup_expired_results", { field: "payload" });
      return { $case: "maintenance", value };
    }
    case "workflow":
      return { $case: "workflow", value: WorkflowJob.fromJSON(payload) };
  }
  throw new ValidationError(`unknown job kind "${kind}"`, { field: "kind" });
}

export function buildJob(s: Pick<ScheduleRow, "tenant" | "name" | "kind" | "payload" | "queue" | "jobOptions">, taskId: string, firedAtMs: number): Job {
  if (!isJobKind(s.kind)) throw new ValidationError(`unknown job kind "${s.kind}"`, { field: "kind" });
  const o = s.jobOptions;
  return Job.fromPartial({
    taskId,
    tenant: s.tenant,
    kind: s.kind,
    queue: s.queue,
    createdAtMs: firedAtMs,
    name: s.name,
    retry: o?.retry,
    timeLimits: o?.timeLimits,
    // Counted from the fire, so a fire queued behind a backlog past the window is not run at noon.
    startByMs: startByAt(firedAtMs, Number(o?.startWithinMs ?? 0)),
    payload: jobPayload(s.kind, s.payload),
  });
}

export interface FiringDeps {
  store: ScheduleStore;
  js: JetStreamClient;
  topo: Topology;
  status: StatusServiceClient;
  clock: Clock;
  logger: Logger;
  /** A fire later than this counts as missed and follows the catch-up policy. */
  misfireGraceMs: number;
  statusTimeoutMs?: number;
}

/** Asked before each fire: do we still hold the lease at our fencing revision? */
export type LeadershipCheck = () => Promise<boolean>;

const MAX_FIRES_PER_SCHEDULE_PER_TICK = 100;

export class Firing {
  constructor(private readonly d: FiringDeps) {}

  private newRun(s: ScheduleRow, scheduledForMs: number, trigger: RunTrigger): RunRow {
    const now = this.d.clock.now();
    const taskId = scheduleTaskId(s.tenant, s.name, scheduledForMs);
    return {
      tenant: s.tenant,
      schedule: s.name,
      scheduledForMs,
      firedAtMs: now,
      taskId,
      trigger,
      state: SCHEDULED,
      job: Buffer.from(Job.encode(buildJob(s, taskId, now)).finish()),
      submitAttempts: 0,
      durationMs: null,
      resultSummary: null,
      error: null,
      updatedAtMs: now,
    };
  }

  /** Fires every due instant of every enabled schedule. Returns how many fires were submitted. */
  async fireDue(stillLeader: LeadershipCheck): Promise<number> {
    let fired = 0;
    for (const s of await this.d.store.due(this.d.clock.now())) {
      try {
        fired += await this.fireSchedule(s, stillLeader);
      } catch (err) {
        this.d.logger.error({ err, tenant: s.tenant, schedule: s.name }, "could not fire schedule");
      }
    }
    return fired;
  }

  private async fireSchedule(s: ScheduleRow, stillLeader: LeadershipCheck): Promise<number> {
    const timing = timingOf({ cron: s.cron, intervalSeconds: s.intervalSeconds, timezone: s.timezone, anchorMs: s.createdAtMs });
    const log = this.d.logger.child({ tenant: s.tenant, schedule: s.name });
    let fired = 0;
    for (let i = 0; i < MAX_FIRES_PER_SCHEDULE_PER_TICK; i++) {
      const due = s.nextFireAtMs;
      const now = this.d.clock.now();
      if (due === null || due > now) break;
      if (!(await stillLeader())) break;
      const graceStart = now - this.d.misfireGraceMs;
      let run: RunRow | undefined;
      let next: number | null;
      if (due >= graceStart) {
        // On time, or late by less than the grace period (e.g. a leader hand-over).
        next = nextFireAfter(timing, due);
        run = this.newRun(s, due, "schedule");
      } else {
        // Missed while no leader ran: resume at the first instant inside the grace window.
        next = nextFireAfter(timing, graceStart);
        const latestMissed = lastFireAtOrBefore(timing, graceStart);
        if (s.catchUp === "run_once" && latestMissed !== null && latestMissed >= due) {
          run = this.newRun(s, latestMissed, "catch_up");
          log.info({ first_missed: new Date(due).toISOString(), scheduled_for: new Date(latestMissed).toISOString() }, "missed fires: running the latest once");
        } else {
          log.info({ first_missed: new Date(due).toISOString(), resume_at: next === null ? null : new Date(next).toISOString() }, "missed fires: skipped");
        }
      }
      const outcome = await this.d.store.claim(s.tenant, s.name, due, next, run);
      if (outcome === "moved") break; // edited meanwhile, or another replica advanced it
      s.nextFireAtMs = next;
      if (outcome === "duplicate" && run) {
        log.warn({ scheduled_for: new Date(run.scheduledForMs).toISOString(), task_id: run.taskId }, "instant already fired; not firing again");
      }
      if (outcome === "claimed" && run) {
        await this.submit(run);
        fired++;
      }
    }
    return fired;
  }

  /**
   * Creates the task (idempotency key = task id) and publishes its job
   * (Nats-Msg-Id = task id). Safe to repeat: both ends dedupe on the id.
   */
  async submit(run: RunRow): Promise<string> {
    const key: RunKey = run;
    const log = this.d.logger.child({ tenant: run.tenant, schedule: run.schedule, scheduled_for: new Date(run.scheduledForMs).toISOString(), task_id: run.taskId });
    const job = Job.decode(run.job);
    try {
      const res = await call(
        this.d.status,
        this.d.status.createTask,
        { job, idempotencyKey: run.taskId, requestHash: createHash("sha256").update(run.job).digest("hex") },
        this.d.statusTimeoutMs ?? 10_000,
        "status service",
      );
      const state = res.task?.state ?? TaskState.PENDING;
      if (res.conflict) log.warn("status service holds a different request under this task id");
      // A task that already left PENDING was picked up: publishing again could run it twice.
      if (!res.existing || state === TaskState.PENDING) await publishJob(this.d.js, this.d.topo, job);
      await this.d.store.markSubmitted(key, stateName(state), this.d.clock.now());
      log.info({ trigger: run.trigger, existing: res.existing }, "schedule fired");
      return stateName(state);
    } catch (err) {
      log.warn({ err: errorMessage(err), attempt: run.submitAttempts + 1 }, "could not submit scheduled task; will retry");
      await this.d.store.markSubmitFailed(key, errorMessage(err), this.d.clock.now());
      return SCHEDULED;
    }
  }

  /** Re-submits claimed runs whose submission did not complete (failed call, or a leader that died mid-fire). */
  async resubmitStuck(stillLeader: LeadershipCheck): Promise<number> {
    let n = 0;
    for (const run of await this.d.store.stuckSubmissions(this.d.clock.now())) {
      if (!(await stillLeader())) break;
      if ((await this.submit(run)) !== SCHEDULED) n++;
    }
    return n;
  }

  /** Runs a schedule now (any replica may do this): its instant is the current time. */
  async trigger(s: ScheduleRow): Promise<RunRow> {
    const run = this.newRun(s, this.d.clock.now(), "manual");
    if (!(await this.d.store.insertManualRun(run))) {
      return (await this.d.store.getRun(run)) ?? run;
    }
    const state = await this.submit(run);
    return (await this.d.store.getRun(run)) ?? { ...run, state };
  }
}
