import type { JetStreamClient } from "nats";
import { TaskState, type Job, type Progress, type TaskError, type TaskEvent } from "@millrace/contracts";
import { jobEvent, publishEvent, type Clock, type Topology } from "@millrace/runtime";
import type { EventBatcher } from "./event-batch";

/**
 * Emits the events of one attempt of one task with increasing sequence
 * numbers, so the status projection can order them. STARTED and the outcome
 * go through the worker's EventBatcher; PROGRESS and RETRY are published
 * alone on the task's subject, after a STARTED the batcher still holds.
 */
export class AttemptEvents {
  private seq = 0;

  constructor(
    private readonly batcher: EventBatcher,
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

  /** Published alone on the task's subject, and acknowledged. */
  emit(state: TaskState, extra: Partial<TaskEvent> = {}): Promise<unknown> {
    const ev = this.build(state, extra);
    this.batcher.release(ev);
    return publishEvent(this.js, this.topo, ev);
  }

  /** Not acknowledged: the outcome event that follows is, and the projection orders them. */
  started(): void {
    this.batcher.started(this.build(TaskState.STARTED));
  }

  progress(p: Progress): Promise<unknown> {
    return this.emit(TaskState.PROGRESS, { progress: p });
  }

  success(result: unknown): Promise<unknown> {
    return this.batcher.outcome(this.build(TaskState.SUCCESS, { resultJson: Buffer.from(JSON.stringify(result ?? null)) }));
  }

  failure(error: TaskError, state: TaskState = TaskState.FAILURE): Promise<unknown> {
    return this.batcher.outcome(this.build(state, { error }));
  }

  retry(error: TaskError, nextAttemptAtMs: number): Promise<unknown> {
    return this.emit(TaskState.RETRY, { error, nextAttemptAtMs });
  }
}
