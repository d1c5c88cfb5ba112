// Finished tasks, kept in memory from the status service's done notices
// (millrace.changed.<id>.done carries the whole finished task). A poll of a
// finished task, which is most polls, is then answered without a call to the
// status service. Anything not here (running, unknown, another tenant's,
// expired, evicted) is asked of the status service as before.
import type { NatsConnection, Subscription } from "nats";
import { TaskChanged, type Task } from "@millrace/contracts";
import { isTerminal, type Clock, type Logger, type Topology } from "@millrace/runtime";

export interface FinishedTasksOptions {
  /** Bound on the encoded bytes held; the least recently stored go first. */
  maxBytes?: number;
}

export class FinishedTasks {
  // Encoded TaskChanged notices, decoded on a hit: most tasks are polled once.
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

  /** Follows the done notices of every task. */
  start(nc: NatsConnection, topo: Topology, logger: Logger): void {
    this.sub = nc.subscribe(topo.changedDone, {
      callback: (err, m) => {
        if (err) return logger.warn({ err: err.message }, "finished-task notices ended");
        this.notice(m.data);
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Takes one encoded TaskChanged notice. */
  notice(data: Uint8Array): void {
    let n: TaskChanged;
    try {
      n = TaskChanged.decode(data);
    } catch {
      return; // not a notice
    }
    this.drop(n.taskId);
    // Without a task (a retry un-finished it, or the result is large): dropped only.
    if (!n.task || !isTerminal(n.task.state)) return;
    // Copied: the message's bytes may be a view into the client's read buffer.
    const copy = data.slice();
    this.entries.set(n.taskId, copy);
    this.bytes += copy.length;
    for (const [id, b] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(id);
      this.bytes -= b.length;
    }
  }

  /** The finished task if held, the caller's, and not expired. */
  get(tenant: string, taskId: string): Task | undefined {
    const data = this.entries.get(taskId);
    if (!data) return undefined;
    const task = TaskChanged.decode(data).task;
    if (!task || task.tenant !== tenant) return undefined;
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
