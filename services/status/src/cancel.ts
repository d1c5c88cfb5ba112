import type { KV, NatsConnection } from "nats";
import { CancelNotice, TaskState, type TaskEvent } from "@millrace/contracts";
import { isTerminal, publishEvent, type Clock, type Logger, type Pool, type Topology } from "@millrace/runtime";
import type { TaskRow } from "./projection";
import { applyEvent, type ProjectionOptions } from "./projection";
import { announceChanges } from "./notices";
import { isParentKind } from "./orchestrator";
import type { TaskStore } from "./store";

/**
 * Revocation. The request is stored three ways: the row's cancel_requested
 * flag (Postgres), a key in the revocations KV bucket (checked by every worker
 * before it starts a job, and durable across restarts), and a core-NATS notice
 * that tells a worker running the task to stop now.
 */
export class Canceller {
  constructor(
    private readonly nc: NatsConnection,
    private readonly pool: Pool,
    private readonly store: TaskStore,
    private readonly revocations: KV,
    private readonly topo: Topology,
    private readonly clock: Clock,
    private readonly projection: ProjectionOptions,
    private readonly logger: Logger,
  ) {}

  async cancel(tenant: string, taskId: string, reason: string): Promise<{ row: TaskRow; alreadyFinished: boolean }> {
    const row = await this.store.get(tenant, taskId);
    if (isTerminal(row.state)) return { row, alreadyFinished: true };
    const now = this.clock.now();
    const notice = CancelNotice.encode({ taskId, tenant, atMs: now, reason }).finish();
    // Durable first: a worker that picks the job up later must see it.
    await this.revocations.put(taskId, notice);
    await this.pool.query("update tasks set cancel_requested = true, updated_at = now() where task_id = $1", [taskId]);
    this.nc.publish(this.topo.cancelSubject(taskId), notice);
    let result: TaskRow = { ...row, cancelRequested: true };
    // Nothing runs a PENDING or RETRY-waiting task, nor a parent (its children
    // are cancelled below), so those are revoked right here.
    if (row.state === TaskState.PENDING || row.state === TaskState.RETRY || isParentKind(row.kind)) {
      const ev = this.revokedEvent(row, now, reason);
      await publishEvent(this.nc.jetstream(), this.topo, ev);
      const next = applyEvent(result, ev, this.projection);
      if (next) {
        await this.store.writeRows(this.pool, [next]);
        result = next;
        announceChanges(this.nc, this.topo, [next]);
      }
    }
    this.logger.info({ task_id: taskId, state: row.state }, "cancel requested");
    // Cancelling a parent cancels its children.
    for (const child of await this.store.children(taskId)) {
      await this.cancel(tenant, child, `parent ${taskId} cancelled`).catch((err) => this.logger.warn({ task_id: child, err: (err as Error).message }, "child cancel failed"));
    }
    return { row: result, alreadyFinished: false };
  }

  revokedEvent(row: TaskRow, now: number, reason: string): TaskEvent {
    return {
      eventId: "",
      taskId: row.taskId,
      tenant: row.tenant,
      kind: row.kind,
      queue: row.queue,
      parentId: row.parentId ?? "",
      createdAtMs: row.createdAt,
      state: TaskState.REVOKED,
      attempt: row.attempt,
      seq: row.seq + 1,
      atMs: now,
      progress: undefined,
      resultJson: new Uint8Array(),
      error: { type: "TaskRevoked", message: reason || "cancelled by request", code: "REVOKED", retryable: false },
      nextAttemptAtMs: 0,
      workerId: "status",
      name: row.name,
      generation: row.generation,
    };
  }

  /** Forgets a revocation (manual retry of a revoked task). */
  async forget(taskId: string): Promise<void> {
    await this.revocations.delete(taskId).catch(() => undefined);
  }
}
