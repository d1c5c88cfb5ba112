// Finished tasks, kept in memory from the status service's change notices
// (a TaskChangedBatch on millrace.changed.batch carries each finished task). A poll of a
// finished task, which is most polls, is then answered without a call to the
// status service. Anything not here (running, unknown, another tenant's,
// expired, evicted) is asked of the status service as before.
import type { NatsConnection, Subscription } from "nats";
import { Task, type TaskChangedBatch } from "@millrace/contracts";
import { subscribeTaskChanges, type Clock, type Logger, type Topology } from "@millrace/runtime";

export interface FinishedTasksOptions {
  /** Bound on the encoded bytes held; the least recently stored go first. */
  maxBytes?: number;
}

export class FinishedTasks {
  // Encoded finished tasks, decoded on a hit: most tasks are polled once.
  private readonly entries = new Map<string, Uint8Array>();
  private bytes = 0;
  private sub?: Subscription;
  private readonly maxBytes: number;

  constructor(
    private readonly clock: Clock,
    opts: FinishedTasksOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Follows the change notices of every task. */
  start(nc: NatsConnection, topo: Topology, logger: Logger): void {
    this.sub = subscribeTaskChanges(nc, topo, logger, (b) => this.notice(b));
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Takes one notice. */
  notice(b: TaskChangedBatch): void {
    for (let i = 0; i < b.taskIds.length; i++) {
      this.drop(b.taskIds[i]);
      // Without a finished task (still running, a retry un-finished it, a
      // parent, or the result is large): dropped only.
      const task = b.finished[i];
      if (!task?.length) continue;
      // Copied: the bytes are a view into the notice, itself perhaps a view into the client's read buffer.
      const copy = task.slice();
      this.entries.set(b.taskIds[i], copy);
      this.bytes += copy.length;
    }
    for (const [id, bytes] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(id);
      this.bytes -= bytes.length;
    }
  }

  /** The finished task if held, the caller's, and not expired. */
  get(tenant: string, taskId: string): Task | undefined {
    const data = this.entries.get(taskId);
    if (!data) return undefined;
    const task = Task.decode(data);
    if (task.tenant !== tenant) return undefined;
    if (task.expiresAtMs && task.expiresAtMs <= this.clock.now()) {
      this.drop(taskId); // the status service answers 410 from here on
      return undefined;
    }
    return task;
  }

  /** Forgets a task (its outcome is about to change: a retry made here). */
  drop(taskId: string): void {
    const old = this.entries.get(taskId);
    if (!old) return;
    this.entries.delete(taskId);
    this.bytes -= old.length;
  }
}
