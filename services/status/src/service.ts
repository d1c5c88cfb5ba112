import type { JetStreamClient, NatsConnection } from "nats";
import { Job, TaskState, type CreateTaskRequest, type CreateTaskResponse, type GetTaskRequest, type ItemError, type StatusServiceServer, type Task, type WatchTaskRequest } from "@millrace/contracts";
import { errorCode, errorMessage, grpc, publishJob, toServiceError, unary, ValidationError, type Clock, type Logger, type Pool, type Topology } from "@millrace/runtime";
import type { Canceller } from "./cancel";
import type { Submissions } from "@millrace/submissions";
import type { ChangeFeed } from "./change-feed";
import type { TaskStore } from "./store";
import { toTask } from "./store";
import { isParentKind } from "./orchestrator";
import { watchTask } from "./watch";
import { announceChanges } from "./notices";
import type { ProjectionOptions } from "./projection";

export interface ServiceDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  pool: Pool;
  topo: Topology;
  store: TaskStore;
  submissions: Submissions;
  feed: ChangeFeed;
  canceller: Canceller;
  clock: Clock;
  logger: Logger;
  projection: ProjectionOptions;
}

/** A batch item's failure, keeping the typed error's code and field. */
function itemError(err: unknown): ItemError {
  return { code: errorCode(err), message: errorMessage(err), field: (err as { field?: string })?.field ?? "" };
}

export function statusService(d: ServiceDeps): StatusServiceServer {
  const createTask = async (req: CreateTaskRequest): Promise<CreateTaskResponse> => {
    const job = req.job;
    if (!job || !job.taskId || !job.tenant || !job.kind) throw new ValidationError("job with task_id, tenant and kind is required", { field: "job" });
    const rec = await d.submissions.record(job, req.idempotencyKey ? { key: req.idempotencyKey, requestHash: req.requestHash } : undefined);
    if (rec.conflict) return { task: undefined, existing: true, conflict: true };
    if (!rec.existing) return { task: undefined, existing: false, conflict: false };
    // The key named an earlier task, or the task id existed (a deterministic id, e.g. a schedule fire).
    return { task: toTask(await d.store.get(job.tenant, rec.taskId)), existing: true, conflict: false };
  };
  const getTask = async (req: GetTaskRequest): Promise<Task> => {
    const row = await d.store.get(req.tenant, req.taskId);
    // Only parents have children; skip the query for everything else.
    const parent = isParentKind(row.kind);
    return toTask(row, parent ? await d.store.children(req.taskId) : []);
  };
  return {
    createTask: unary(createTask),
    getTask: unary(getTask),
    getTasks: unary(async (req) => ({
      results: await Promise.all(req.requests.map((r) => getTask(r).then((task) => ({ task, error: undefined }), (err) => ({ task: undefined, error: itemError(err) })))),
    })),

    countTasks: unary(async (req) => d.store.count(req.tenant, Number(req.sinceMs))),

    listTasks: unary(async (req) => {
      const limit = Math.min(Math.max(req.limit || 50, 1), 500);
      const { rows, omitted, nextCursor } = await d.store.list({
        tenant: req.tenant,
        state: req.state || undefined,
        kind: req.kind || undefined,
        limit,
        cursor: req.cursor || undefined,
        activeOnly: req.activeOnly,
        parentId: req.parentId || undefined,
      });
      return { tasks: rows.map((r) => ({ ...toTask(r), omittedResultBytes: omitted.get(r.taskId) ?? 0 })), nextCursor };
    }),

    watchTask: (call: grpc.ServerWritableStream<WatchTaskRequest, Task>) => {
      let cancelled = false;
      const cancelHooks: Array<() => void> = [];
      call.on("cancelled", () => {
        cancelled = true;
        for (const h of cancelHooks) h();
      });
      watchTask(
        d.nc,
        d.topo,
        d.feed,
        d.store,
        call.request.tenant,
        call.request.taskId,
        (row) => call.write(toTask(row)),
        () => cancelled,
        (fn) => cancelHooks.push(fn),
        d.projection,
        call.request.history,
      ).then(
        () => call.end(),
        // emit("error") (not destroy) makes grpc-js send the status to the client.
        (err) => call.emit("error", Object.assign(new Error((err as Error).message), toServiceError(err))),
      );
    },

    cancelTask: unary(async (req) => {
      const { row, alreadyFinished } = await d.canceller.cancel(req.tenant, req.taskId, req.reason);
      return { task: toTask(row), alreadyFinished };
    }),

    retryTask: unary(async (req) => {
      const row = await d.store.get(req.tenant, req.taskId);
      if (row.state !== TaskState.FAILURE && row.state !== TaskState.REVOKED) {
        return { task: toTask(row), notRetryable: true };
      }
      const job = await d.store.getJob(req.taskId);
      if (!job) throw new ValidationError("task has no stored job to retry", { field: "task_id" });
      const generation = row.generation + 1;
      // Attempts keep counting across generations: the next run is attempt N+1.
      // A start_by deadline keeps its window, counted from this re-queue: the retry is asked for now.
      const startByMs = job.startByMs > 0 ? d.clock.now() + Math.max(0, job.startByMs - Number(job.createdAtMs)) : 0;
      const next = { ...job, generation, attemptBase: row.attempt, startByMs };
      await d.pool.query(
        // The last attempt's progress ("tree 286/3000") would read as the new run's.
        `update tasks set generation = $2, state = 'PENDING', seq = 0, progress = null, result = null, error = null, finished_at = null,
           expires_at = null, next_attempt_at = null, cancel_requested = false, job = $3, start_by = $4, updated_at = now() where task_id = $1`,
        [req.taskId, generation, Buffer.from(Job.encode(next).finish()), startByMs > 0 ? new Date(startByMs) : null],
      );
      await d.canceller.forget(req.taskId);
      d.store.forget(req.taskId);
      const requeued = await d.store.get(req.tenant, req.taskId);
      announceChanges(d.nc, d.topo, [requeued]);
      await publishJob(d.js, d.topo, next);
      d.logger.info({ task_id: req.taskId, generation }, "task re-queued by request");
      return { task: toTask(requeued), notRetryable: false };
    }),

    purgeExpired: unary(async (req) => ({ purged: await d.store.purgeExpired(req.limit || 10_000, req.tenant) })),

    ping: unary(async () => {
      await d.pool.query("select 1");
      return { service: "status" };
    }),
  };
}
