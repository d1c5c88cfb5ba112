// The one path every task-creating request takes:
//   validated body → Job → the PENDING row holding the job, written to
//   Postgres by @millrace/submissions (the record of truth) → publish on
//   JetStream (not awaited) → 202 with the task's links.
// The row is written here rather than through the status service's
// CreateTask: that hop (gRPC both ways, a second busy event loop) was half of
// a submit's latency under load, and with 64 clients latency sets the rate.
// Nothing is created or published before validation passes.
import { createHash, randomUUID } from "node:crypto";
import type { Context } from "hono";
import { Job, encodeMessage, type Task } from "@millrace/contracts";
import {
  DependencyUnavailableError,
  IdempotencyConflictError,
  MillraceError,
  ValidationError,
  publishJobUnacked,
  isTerminal,
  startByAt,
  stateName,
  type JobKind,
} from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "./context";
import { getTask, waitForTerminal } from "./status-watch";
import { JSON_TYPE, iso, taskJson, taskJsonText, taskLinks } from "./task-view";
import { canonicalJson, type JobOptions } from "./validation";

export interface SubmitSpec {
  kind: JobKind;
  payload: Job["payload"];
  options: JobOptions;
  name?: string;
  parentId?: string;
  concurrencyKey?: string;
  /** The parsed request body; hashed with the method and path when an Idempotency-Key is sent. */
  body: unknown;
}

export interface Submitted {
  taskId: string;
  task: Task | undefined;
  /** The Idempotency-Key matched an earlier request: nothing new was created. */
  existing: boolean;
  /** The new job's start_by (0: none). */
  startByMs?: number;
}

const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

function idempotency(c: Context<GatewayEnv>, body: unknown): { key: string; hash: string } {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return { key: "", hash: "" };
  if (!IDEMPOTENCY_KEY_RE.test(key)) {
    throw new ValidationError("Idempotency-Key: 1 to 255 visible ASCII characters", { field: "Idempotency-Key" });
  }
  // Only hashed when a key is sent: the common path does no crypto beyond the token check.
  const hash = createHash("sha256").update(`${c.req.method}\n${c.req.path}\n${canonicalJson(body)}`).digest("hex");
  return { key, hash };
}

export async function submitTask(deps: GatewayDeps, c: Context<GatewayEnv>, spec: SubmitSpec): Promise<Submitted> {
  const { key, hash } = idempotency(c, spec.body);
  const createdAtMs = deps.clock.now();
  const job: Job = {
    taskId: randomUUID(),
    tenant: c.get("tenant"),
    kind: spec.kind,
    queue: spec.options.queue,
    createdAtMs,
    retry: spec.options.retry,
    timeLimits: spec.options.timeLimits,
    parentId: spec.parentId ?? "",
    attemptBase: 0,
    concurrencyKey: spec.concurrencyKey ?? "",
    name: spec.name ?? "",
    inputJson: Buffer.alloc(0),
    generation: 0,
    startByMs: startByAt(createdAtMs, spec.options.startWithinMs),
    payload: spec.payload,
  };

  // Encoded once: the row stores these bytes and the publish sends them.
  const encoded = encodeMessage(Job, job);
  // The task could not be recorded (Postgres is down or refused it): 503, nothing published.
  const recorded = await unavailableOnFailure(deps.submissions.record(job, key ? { key, requestHash: hash } : undefined, encoded), "the task could not be recorded (database unavailable); retry later");
  if (recorded.conflict) {
    throw new IdempotencyConflictError(`Idempotency-Key '${key}' was already used with a different request`, { field: "Idempotency-Key" });
  }
  if (recorded.existing) {
    // The key named an earlier task: answer with it as it is now.
    c.set("taskId", recorded.taskId);
    const task = await unavailableOnFailure(getTask(deps.status, job.tenant, recorded.taskId), "the status service could not read the task; retry later");
    return { taskId: recorded.taskId, task, existing: true };
  }
  c.set("taskId", job.taskId);

  // The job is published without waiting for JetStream's ack. What makes it
  // durable is the PENDING row just committed, which holds the job: the status
  // service's reconciler republishes any task that stays PENDING with no event
  // past its deadline (same Nats-Msg-Id, so a publish that did land is
  // deduplicated). A PubAck would add nothing to that (on 2.9 it is not an
  // fsync, NATS-NOTES) and cost each job a reply message and a wait: without
  // it the bench's jobs/s rose by a fifth and CPU per job fell by 15%.
  try {
    publishJobUnacked(deps.nc, deps.topo, job, encoded);
  } catch (err) {
    // The connection is closed: the task is not lost either (see above), and
    // the client still gets its 202 and can poll as usual.
    deps.logger.warn({ task_id: job.taskId, err: (err as Error).message }, "job publish failed; left for the reconciler");
  }
  return { taskId: job.taskId, task: undefined, existing: false, startByMs: job.startByMs };
}

/** A dependency's answer; its client errors (4xx) keep their status, any other failure is a 503 with `message`. */
async function unavailableOnFailure<T>(p: Promise<T>, message: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof MillraceError && err.httpStatus < 500) throw err;
    throw new DependencyUnavailableError(message, { cause: err });
  }
}

export function locationOf(deps: GatewayDeps, taskId: string): string {
  return `${deps.config.PUBLIC_URL?.replace(/\/$/, "") ?? ""}/v1/tasks/${taskId}`;
}

/** 202 with the task's id, state and links (and Location). */
export function accepted(deps: GatewayDeps, c: Context<GatewayEnv>, s: Submitted): Response {
  const state = s.existing && s.task ? stateName(s.task.state) : "PENDING";
  const headers: Record<string, string> = { Location: locationOf(deps, s.taskId) };
  if (s.existing) headers["Idempotent-Replayed"] = "true";
  const startBy = s.startByMs ? { start_by: iso(s.startByMs) } : undefined;
  return c.json({ task_id: s.taskId, state, ...startBy, ...taskLinks(s.taskId) }, 202, headers);
}

/** Body for a task that finished (or did not) within a sync wait. */
export function finishedOrAccepted(deps: GatewayDeps, c: Context<GatewayEnv>, task: Task, terminal: boolean): Response {
  if (terminal) return c.body(taskJsonText(task), 200, JSON_TYPE);
  return c.json({ ...taskJson(task), ...taskLinks(task.taskId) }, 202, { Location: locationOf(deps, task.taskId) });
}

/** Aborts when the client goes away or the gateway drains. */
export function requestSignals(deps: GatewayDeps, c: Context<GatewayEnv>): AbortSignal[] {
  return [c.req.raw.signal, deps.shutdown];
}

/**
 * The sync variants (pipelines/run, nodes/run, forecast): the task is created
 * and queued like any other, then followed until terminal for up to
 * SYNC_WAIT_MS. 200 with the task when it finished, else 202 with its links.
 */
export async function submitAndWait(deps: GatewayDeps, c: Context<GatewayEnv>, spec: SubmitSpec): Promise<Response> {
  const s = await submitTask(deps, c, spec);
  const task = await waitForTerminal(deps.status, c.get("tenant"), s.taskId, { timeoutMs: deps.config.SYNC_WAIT_MS, signals: requestSignals(deps, c) });
  return finishedOrAccepted(deps, c, task, isTerminal(task.state));
}
