import type { JetStreamClient, NatsConnection } from "nats";
import { TaskState, type Job, type Progress, type TaskError, type TaskEvent } from "@millrace/contracts";
import { jobEvent, publishEvent, publishEventUnacked, type Clock, type Topology } from "@millrace/runtime";

/**
 * Emits the events of one attempt of one task with increasing sequence
 * numbers, so the status projection can order them.
 */
export class AttemptEvents {
  private seq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly topo: Topology,
    private readonly clock: Clock,
    private readonly job: Job,
    readonly attempt: number,
    private readonly workerId: string,
  ) {}

  build(state: TaskState, extra: Partial<TaskEvent> = {}): TaskEvent {
    this.seq += 1;
    return jobEvent(this.job, { state, attempt: this.attempt, seq: this.seq, atMs: this.clock.now(), workerId: this.workerId, ...extra });
  }

  emit(state: TaskState, extra: Partial<TaskEvent> = {}): Promise<unknown> {
    return publishEvent(this.js, this.topo, this.build(state, extra));
  }

  /** Not acknowledged: the outcome event that follows is, and the projection orders them. */
  started(): void {
    publishEventUnacked(this.nc, this.topo, this.build(TaskState.STARTED));
  }

  progress(p: Progress): Promise<unknown> {
    return this.emit(TaskState.PROGRESS, { progress: p });
  }

  success(result: unknown): Promise<unknown> {
    return this.emit(TaskState.SUCCESS, { resultJson: Buffer.from(JSON.stringify(result ?? null)) });
  }

  failure(error: TaskError, state: TaskState = TaskState.FAILURE): Promise<unknown> {
    return this.emit(state, { error });
  }

  retry(error: TaskError, nextAttemptAtMs: number): Promise<unknown> {
    return this.emit(TaskState.RETRY, { error, nextAttemptAtMs });
  }
}
