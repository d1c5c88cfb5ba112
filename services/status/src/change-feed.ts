import type { NatsConnection, Subscription } from "nats";
import type { TaskChangedBatch, TaskState } from "@millrace/contracts";
import { subscribeTaskChanges, type Logger, type Topology } from "@millrace/runtime";

/**
 * Fires on each change notice of one task. Notices that arrive while the
 * watcher is busy coalesce into one wake-up: a watcher re-reads the row, so it
 * needs to know that something changed, not how many times.
 */
export class ChangeSignal implements AsyncIterable<void> {
  private pending = false;
  private closed = false;
  private wake?: () => void;

  constructor(private readonly off: () => void) {}

  notify(): void {
    this.pending = true;
    this.wake?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.off();
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<void> {
    while (!this.closed) {
      if (!this.pending) await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
      if (this.closed) return;
      this.pending = false;
      yield;
    }
  }
}

/**
 * The change notices of every task (TaskChangedBatch on
 * millrace.changed.batch, from whichever status replica wrote the rows),
 * received once per process and handed to the WatchTask streams of the tasks
 * they name, and to `onChange` (the finished-row cache's invalidation).
 */
export class ChangeFeed {
  private readonly watchers = new Map<string, Set<ChangeSignal>>();
  private sub?: Subscription;

  constructor(
    private readonly onChange: (taskId: string, state: TaskState) => void,
  ) {}

  start(nc: NatsConnection, topo: Topology, logger: Logger): void {
    this.sub = subscribeTaskChanges(nc, topo, logger, (b) => this.take(b));
  }

  stop(): void {
    this.sub?.unsubscribe();
    for (const set of this.watchers.values()) for (const s of [...set]) s.close();
  }

  /** Takes one notice. */
  take(b: TaskChangedBatch): void {
    for (let i = 0; i < b.taskIds.length; i++) {
      const id = b.taskIds[i];
      this.onChange(id, b.states[i]);
      const set = this.watchers.get(id);
      if (set) for (const s of set) s.notify();
    }
  }

  /** A signal for each later change of taskId; close() it when done. */
  watch(taskId: string): ChangeSignal {
    const set = this.watchers.get(taskId) ?? new Set<ChangeSignal>();
    this.watchers.set(taskId, set);
    const signal: ChangeSignal = new ChangeSignal(() => {
      set.delete(signal);
      if (!set.size) this.watchers.delete(taskId);
    });
    set.add(signal);
    return signal;
  }
}
