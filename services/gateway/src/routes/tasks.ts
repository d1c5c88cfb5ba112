// Task inspection and control, all tenant-scoped through the status service.
//
// GET /v1/tasks/{id}/result answers:
//   200 {task_id, state:"SUCCESS", result}            the task succeeded
//   202 {task_id, state, progress, ...links}          not finished yet (Retry-After: 1)
//   409 {error:{code:"TASK_FAILED"|"TASK_REVOKED", message, type}, task_id, state}
// Both GET /v1/tasks/{id} and /result take ?wait=N (seconds, at most 60) to
// long-poll until the task is terminal.
import { Hono, type Context } from "hono";
import { TaskState, type Task, type TaskCount } from "@millrace/contracts";
import { ConflictError, GoneError, ValidationError, call, isJobKind, isoTime, isTerminal, stateFromName, stateName, z } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { errorBody } from "../errors";
import { taskEvents } from "../sse";
import { getTask, waitForTerminal } from "../status-watch";
import { requestSignals } from "../submit";
import { errorJson, JSON_TYPE, resultJsonText, taskJson, taskJsonText, taskLinks } from "../task-view";
import { parseWith, queryInt, readJsonObject } from "../validation";

const cancelBody = z.object({ reason: z.string().max(500).optional() }).strict();

const MAX_WAIT_S = 60;
const TASK_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function taskIdParam(c: Context<GatewayEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!TASK_ID_RE.test(id)) throw new ValidationError("task_id: not a task id", { field: "task_id" });
  c.set("taskId", id);
  return id;
}

/** GetTask, or a watch until terminal when ?wait=N is given. Expired tasks are 410. */
async function readTask(deps: GatewayDeps, c: Context<GatewayEnv>, id: string): Promise<Task> {
  const wait = queryInt(c.req.query("wait"), "wait", 0, 0, MAX_WAIT_S);
  const tenant = c.get("tenant");
  const task =
    deps.finished?.get(tenant, id) ??
    (wait > 0 ? await waitForTerminal(deps.status, tenant, id, { timeoutMs: wait * 1000, signals: requestSignals(deps, c) }) : await getTask(deps.status, tenant, id));
  if (task.expired) throw new GoneError(`task ${id} has expired`, { field: "task_id" });
  return task;
}

function listQuery(c: Context<GatewayEnv>) {
  const stateRaw = c.req.query("state");
  let state = TaskState.TASK_STATE_UNSPECIFIED;
  if (stateRaw) {
    const s = stateFromName(stateRaw);
    if (s === undefined) throw new ValidationError("state: must be one of PENDING, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE, REVOKED", { field: "state" });
    state = s;
  }
  const kind = c.req.query("type") ?? "";
  if (kind && !isJobKind(kind)) throw new ValidationError(`type: unknown task type '${kind}'`, { field: "type" });
  return {
    tenant: c.get("tenant"),
    state,
    kind,
    limit: queryInt(c.req.query("limit"), "limit", 50, 1, 500),
    cursor: c.req.query("cursor") ?? "",
    activeOnly: false,
    parentId: c.req.query("parent_id") ?? "",
  };
}

const total = (rows: TaskCount[]): number => rows.reduce((s, x) => s + Number(x.count), 0);

function byState(rows: TaskCount[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of rows) out[stateName(x.state)] = (out[stateName(x.state)] ?? 0) + Number(x.count);
  return out;
}

function byKey(rows: TaskCount[], keyOf: (x: TaskCount) => string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const x of rows) {
    const states = (out[keyOf(x)] ??= {});
    states[stateName(x.state)] = (states[stateName(x.state)] ?? 0) + Number(x.count);
  }
  return out;
}

export function taskRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const list = (req: ReturnType<typeof listQuery>) => call(deps.status, deps.status.listTasks, req, 10_000, "status");

  app.get("/tasks", async (c) => {
    const r = await list(listQuery(c));
    return c.json({ tasks: r.tasks.map((t) => taskJson(t, { history: false })), next_cursor: r.nextCursor || null });
  });

  const active = async (c: Context<GatewayEnv>) => {
    const r = await list({ ...listQuery(c), activeOnly: true });
    return c.json({ tasks: r.tasks.map((t) => taskJson(t, { history: false })), next_cursor: r.nextCursor || null });
  };

  // What will run later: the next fire of each enabled schedule, and tasks
  // waiting out a retry backoff.
  const scheduled = async (c: Context<GatewayEnv>) => {
    const tenant = c.get("tenant");
    const [schedules, retries] = await Promise.all([
      call(deps.scheduler, deps.scheduler.listSchedules, { tenant }, 10_000, "scheduler"),
      // RETRY alone: active_only means running now (STARTED/PROGRESS), which a retrying task is not.
      list({ ...listQuery(c), state: TaskState.RETRY }),
    ]);
    return c.json({
      schedules: schedules.schedules
        .filter((s) => s.enabled && s.nextFireAtMs > 0)
        .sort((a, b) => a.nextFireAtMs - b.nextFireAtMs)
        .map((s) => ({
          name: s.name,
          kind: s.kind,
          queue: s.queue,
          cron: s.cron || undefined,
          interval_seconds: s.intervalSeconds || undefined,
          timezone: s.timezone || undefined,
          next_fire_at: isoTime(s.nextFireAtMs),
        })),
      retries: retries.tasks
        .filter((t) => t.nextAttemptAtMs > 0)
        .map((t) => ({
          task_id: t.taskId,
          type: t.kind,
          queue: t.queue,
          attempts: t.attempts,
          next_attempt_at: isoTime(t.nextAttemptAtMs),
          error: errorJson(t.error),
        })),
      next_cursor: retries.nextCursor || null,
    });
  };

  // Flower's dashboard: how many of the tenant's tasks are in each state.
  const counts = async (c: Context<GatewayEnv>) => {
    const hours = queryInt(c.req.query("hours"), "hours", 24, 1, 7 * 24);
    const sinceMs = deps.clock.now() - hours * 3_600_000;
    const r = await call(deps.status, deps.status.countTasks, { tenant: c.get("tenant"), sinceMs }, 10_000, "status");
    return c.json({
      since: isoTime(sinceMs),
      recent: { total: total(r.recent), by_state: byState(r.recent), by_kind: byKey(r.recent, (x) => x.kind) },
      unfinished: { total: total(r.unfinished), by_state: byState(r.unfinished), by_queue: byKey(r.unfinished, (x) => x.queue) },
    });
  };

  // GET /tasks/active, /tasks/scheduled and /tasks/counts are answered by the /tasks/:id
  // route. Hono's RegExpRouter cannot hold a static segment beside a param
  // one for the same method, and one such pair makes SmartRouter fall back to
  // TrieRouter for every route (about 8x slower per match, on every poll).
  app.get("/tasks/:id", async (c) => {
    const id = c.req.param("id");
    if (id === "active") return active(c);
    if (id === "scheduled") return scheduled(c);
    if (id === "counts") return counts(c);
    return c.body(taskJsonText(await readTask(deps, c, taskIdParam(c))), 200, JSON_TYPE);
  });

  app.get("/tasks/:id/result", async (c) => {
    const id = taskIdParam(c);
    const t = await readTask(deps, c, id);
    const state = stateName(t.state);
    if (t.state === TaskState.SUCCESS) return c.body(resultJsonText(t), 200, JSON_TYPE);
    if (!isTerminal(t.state)) {
      return c.json({ task_id: id, state, progress: taskJson(t).progress, ...taskLinks(id) }, 202, { "Retry-After": "1" });
    }
    const err = errorJson(t.error);
    const code = t.state === TaskState.REVOKED ? "TASK_REVOKED" : "TASK_FAILED";
    const message = t.state === TaskState.REVOKED ? "the task was cancelled" : String(err?.message ?? "the task failed");
    c.set("errorCode", code);
    return c.json({ ...errorBody(code, message, undefined, { type: err?.type ?? (code === "TASK_REVOKED" ? "Revoked" : "Error") }), task_id: id, state }, 409);
  });

  app.get("/tasks/:id/events", async (c) => taskEvents(deps, c, taskIdParam(c)));

  const cancel = async (c: Context<GatewayEnv>, okStatus: 200 | 202) => {
    const id = taskIdParam(c);
    let reason = "cancelled by the user";
    // The body is optional ({"reason": "..."}); when sent, it is size-limited and checked like any other.
    const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES, { optional: true });
    if (raw) reason = parseWith(cancelBody, raw).reason || reason;
    const r = await call(deps.status, deps.status.cancelTask, { tenant: c.get("tenant"), taskId: id, reason }, 10_000, "status");
    if (r.alreadyFinished) {
      throw new ConflictError(`task ${id} already finished (${r.task ? stateName(r.task.state) : "terminal"}); nothing to cancel`, {
        field: "task_id",
        details: { state: r.task ? stateName(r.task.state) : undefined },
      });
    }
    return c.json(r.task ? taskJson(r.task) : { task_id: id }, okStatus);
  };
  app.post("/tasks/:id/cancel", (c) => cancel(c, 202));
  app.delete("/tasks/:id", (c) => cancel(c, 200));

  app.post("/tasks/:id/retry", async (c) => {
    const id = taskIdParam(c);
    // The status service bumps the task's generation and republishes its job.
    const r = await call(deps.status, deps.status.retryTask, { tenant: c.get("tenant"), taskId: id }, 10_000, "status");
    if (r.notRetryable) {
      throw new ConflictError(`task ${id} is ${r.task ? stateName(r.task.state) : "not failed"}; only FAILURE or REVOKED tasks can be retried`, {
        field: "task_id",
        details: { state: r.task ? stateName(r.task.state) : undefined },
      });
    }
    // The retry's notice drops the old outcome from every gateway, but this
    // caller may poll before it comes back here: drop it now.
    deps.finished?.drop(id);
    return c.json({ ...(r.task ? taskJson(r.task) : { task_id: id }), ...taskLinks(id) }, 202);
  });

  return app;
}
