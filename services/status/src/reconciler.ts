import type { JetStreamClient } from "nats";
import { publishJob, type Logger, type Topology } from "@millrace/runtime";
import type { TaskStore } from "./store";

/**
 * JetStream acks a publish before it is on disk (NATS-NOTES, Jepsen 2025), and
 * the gateway may crash between recording a task and publishing its job. The
 * row in Postgres is the record of truth, so PENDING tasks that have seen no
 * event for `afterMs` are published again. The republish carries the same
 * Nats-Msg-Id (deduped inside the window) and a header that makes the worker
 * check the task's state first (idempotent beyond the window).
 */
export class Reconciler {
  private timer?: NodeJS.Timeout;
  republished = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly store: TaskStore,
    private readonly topo: Topology,
    private readonly logger: Logger,
    private readonly opts: { afterMs: number; everyMs: number; purgeEveryMs: number },
  ) {}

  start(): void {
    let lastPurge = 0;
    const tick = async () => {
      try {
        await this.republishStale();
        if (Date.now() - lastPurge >= this.opts.purgeEveryMs) {
          lastPurge = Date.now();
          const n = await this.store.purgeExpired(5_000);
          if (n) this.logger.info({ purged: n }, "purged expired tasks");
        }
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, "reconciler pass failed");
      }
      this.timer = setTimeout(tick, this.opts.everyMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, this.opts.everyMs);
    this.timer.unref();
  }

  async republishStale(): Promise<number> {
    const jobs = await this.store.stalePending(this.opts.afterMs, 500);
    for (const job of jobs) {
      await publishJob(this.js, this.topo, job, { republish: true });
      this.logger.warn({ task_id: job.taskId, kind: job.kind }, "republished a PENDING task with no events");
    }
    this.republished += jobs.length;
    return jobs.length;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
