import type { NatsConnection, Subscription } from "nats";
import { Job, TaskState } from "@millrace/contracts";
import { jobEvent, publishDeadLetter, publishEvent, type Clock, type Logger, type Topology } from "@millrace/runtime";

/**
 * When JetStream gives up on a job (max deliveries reached, e.g. a job that
 * kills its worker every time), it publishes an advisory and leaves the
 * message in the work queue. We copy the message to the dead-letter stream,
 * delete it from the queue and fail the task with the reason.
 */
export class DeadLetterWatcher {
  private sub?: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly topo: Topology,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(this.topo.maxDeliveriesAdvisory);
    void (async () => {
      for await (const m of this.sub!) {
        try {
          const adv = JSON.parse(new TextDecoder().decode(m.data)) as { stream_seq: number; deliveries: number; consumer: string };
          await this.handle(adv.stream_seq, adv.deliveries, adv.consumer);
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, "could not dead-letter a job");
        }
      }
    })();
  }

  async handle(streamSeq: number, deliveries: number, consumer: string): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    let stored;
    try {
      stored = await jsm.streams.getMessage(this.topo.jobsStream, { seq: streamSeq });
    } catch {
      return; // Another replica (or the worker) already moved it.
    }
    const job = Job.decode(stored.data);
    await publishDeadLetter(this.nc.jetstream(), this.topo, job, stored.data, `max deliveries (${deliveries}) reached on ${consumer}`);
    await jsm.streams.deleteMessage(this.topo.jobsStream, streamSeq, false).catch(() => undefined);
    await publishEvent(
      this.nc.jetstream(),
      this.topo,
      jobEvent(job, {
        state: TaskState.FAILURE,
        attempt: job.attemptBase + deliveries,
        // After any sequence a worker's attempt could have reached.
        seq: 1_000_000,
        atMs: this.clock.now(),
        error: { type: "MaxDeliveriesExceeded", message: `the job was delivered ${deliveries} times without an outcome (worker lost each time)`, code: "MAX_DELIVERIES", retryable: false },
        workerId: "status",
      }),
    );
    this.logger.error({ task_id: job.taskId, deliveries }, "job dead-lettered after max deliveries");
  }

  stop(): void {
    this.sub?.unsubscribe();
  }
}
