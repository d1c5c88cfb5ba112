import type { JetStreamClient, JetStreamManager, KV } from "nats";
import { WorkerHeartbeat } from "@millrace/contracts";
import { expiredEvent, lateForStart, publishEvent, publishJob, type Clock, type Logger, type Topology } from "@millrace/runtime";
import { ORCHESTRATED_KINDS } from "./orchestrator";
import type { TaskStore } from "./store";

export interface ReconcilerOptions {
  /** A PENDING task with no event for this long is published again. */
  afterMs: number;
  /** A STARTED task with no event for this long, held by no live worker, is published again. */
  lostAfterMs: number;
  everyMs: number;
  purgeEveryMs: number;
  /** How long a pass waits for the projector to commit the events stored before it began. */
  catchUpWaitMs: number;
}

/**
 * JetStream acks a publish before it is on disk (NATS-NOTES, Jepsen 2025), and
 * the gateway may crash between recording a task and publishing its job. The
 * row in Postgres is the record of truth, so:
 * - PENDING tasks that have seen no event for `afterMs` are published again
 *   (header Millrace-Republish: 1; the worker runs the copy only while the
 *   task is still PENDING), unless their start_by has passed: those end
 *   REVOKED with code EXPIRED, as a worker would end them;
 * - STARTED tasks that have seen no event for `lostAfterMs` and that no live
 *   worker's heartbeat lists are published again as their next attempt
 *   (Millrace-Republish: lost): the worker died, and JetStream, which would
 *   have redelivered the job after its ack timeout, lost the message too.
 * A PENDING copy carries the job's Nats-Msg-Id, so a copy of a job still in
 * the stream is dropped inside the duplicate window. A lost task's copy has an
 * id of its own (the original's may be remembered after its message is gone).
 * Where both messages are stored, the workers' run claims let only one run.
 *
 * A row is only as current as the projection: after a status restart, events
 * stored minutes ago may not be projected yet, and their tasks would look
 * stale. Each pass first waits until the projector has committed every event
 * stored before the pass began (its consumer's ack floor, which covers every
 * replica), and is skipped if it has not within `catchUpWaitMs`.
 */
export class Reconciler {
  private timer?: NodeJS.Timeout;
  republished = 0;
  expired = 0;
  recovered = 0;
  skippedBehind = 0;
  /** Finished timer passes, for tests that need one to have happened. */
  passes = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly workers: KV,
    private readonly store: TaskStore,
    private readonly topo: Topology,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly opts: ReconcilerOptions,
  ) {}

  start(): void {
    // The first sweep is one period after start, not at the first pass: a
    // restart does not purge early, and a test's expired rows are not taken
    // by this every-tenant sweep moments after the stack comes up.
    let lastPurge = this.clock.now();
    const tick = async () => {
      try {
        await this.republishStale();
        await this.recoverLost();
        if (this.clock.now() - lastPurge >= this.opts.purgeEveryMs) {
          lastPurge = this.clock.now();
          const n = await this.store.purgeExpired(5_000);
          if (n) this.logger.info({ purged: n }, "purged expired tasks");
        }
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, "reconciler pass failed");
      }
      this.passes += 1;
      this.timer = setTimeout(tick, this.opts.everyMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, this.opts.everyMs);
    this.timer.unref();
  }

  /** Whether the projector has committed every event stored before this call, waiting up to `waitMs`. */
  async projectionCaughtUp(waitMs = this.opts.catchUpWaitMs): Promise<boolean> {
    const last = (await this.jsm.streams.info(this.topo.eventsStream)).state.last_seq;
    const deadline = performance.now() + waitMs;
    for (;;) {
      const floor = (await this.jsm.consumers.info(this.topo.eventsStream, this.topo.projectorConsumer)).ack_floor.stream_seq;
      if (floor >= last) return true;
      if (performance.now() >= deadline) {
        this.skippedBehind += 1;
        this.logger.warn({ ack_floor: floor, last_event: last }, "projection is behind the event stream; reconciler pass skipped");
        return false;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async republishStale(catchUpWaitMs?: number): Promise<number> {
    if (!(await this.projectionCaughtUp(catchUpWaitMs))) return 0;
    const jobs = await this.store.stalePending(this.opts.afterMs, 500);
    for (const job of jobs) {
      // Past its start_by, a copy would only be refused by the worker, and with no
      // worker for its kind the task would stay PENDING: it ends EXPIRED here.
      const now = this.clock.now();
      const late = lateForStart(job, now);
      if (late !== undefined) {
        // The attempt a worker's first delivery of it would have had.
        await publishEvent(this.js, this.topo, expiredEvent(job, { lateMs: late, atMs: now, attempt: job.attemptBase + 1, workerId: "reconciler" }));
        this.logger.info({ task_id: job.taskId, kind: job.kind, late_ms: late }, "PENDING task past its start_by: ended EXPIRED");
        this.expired += 1;
        continue;
      }
      const ack = await publishJob(this.js, this.topo, job, { republish: "1" });
      if (ack.duplicate) this.logger.info({ task_id: job.taskId, kind: job.kind }, "PENDING task with no events: its job is still in the stream (duplicate dropped)");
      else this.logger.warn({ task_id: job.taskId, kind: job.kind }, "republished a PENDING task with no events");
      this.republished += 1;
    }
    return jobs.length;
  }

  async recoverLost(catchUpWaitMs?: number): Promise<number> {
    const live = await this.liveTasks();
    if (!live || !(await this.projectionCaughtUp(catchUpWaitMs))) return 0;
    const jobs = await this.store.staleRunning(this.opts.lostAfterMs, 500, [...live], ORCHESTRATED_KINDS);
    for (const job of jobs) {
      await publishJob(this.js, this.topo, job, { republish: "lost" });
      this.logger.warn({ task_id: job.taskId, kind: job.kind, attempt: job.attemptBase + 1 }, "republished a STARTED task that no live worker holds");
    }
    this.recovered += jobs.length;
    return jobs.length;
  }

  /** Task ids in every live worker's heartbeat; undefined when they cannot be read (then nothing is recovered). */
  private async liveTasks(): Promise<Set<string> | undefined> {
    try {
      const ids = new Set<string>();
      const keys: string[] = [];
      for await (const k of await this.workers.keys()) keys.push(k);
      for (const e of await Promise.all(keys.map((k) => this.workers.get(k)))) {
        if (!e || e.operation !== "PUT" || e.value.length === 0) continue;
        for (const t of WorkerHeartbeat.decode(e.value).inFlightTasks) ids.add(t.taskId);
      }
      return ids;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "worker heartbeats unreadable; lost-task recovery skipped");
      return undefined;
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
