// Event batching. A prediction takes well under a millisecond, and its STARTED
// and SUCCESS events, one stored JetStream message each, cost more than the
// work: the server writes every stored message to its block file on its own,
// and the projector receives and acks each one. A worker running hundreds of
// such jobs a second therefore publishes the events of each event-loop turn
// together, as one TaskEventBatch on events._batch.v1.
//
// What stays as before, on the task's own subject (events.<task_id>):
//  - a STARTED whose outcome did not come in the same turn (a job still
//    running), so a late watcher replaying the task's subject still finds it;
//  - PROGRESS and RETRY, and any event published after the task's STARTED
//    went alone (they are published through release(), which sends a held
//    STARTED first, so a task's subject stays in order);
//  - an outcome bigger than maxEventBytes, and the events of a turn in which
//    only one job ended (so at low rates nothing changes).
// So a batch only ever holds whole attempts (STARTED with its outcome) and
// outcomes whose STARTED went earlier, of two or more jobs. An outcome's promise settles with its
// batch's PubAck: the worker acks the job only after that.
import { randomUUID } from "node:crypto";
import type { JetStreamClient, NatsConnection } from "nats";
import type { TaskEvent } from "@millrace/contracts";
import { encodeEvent, publishEncodedEvent, publishEncodedUnacked, publishEventBatch, type Topology } from "@millrace/runtime";

interface Encoded {
  taskId: string;
  eventId: string;
  data: Uint8Array;
}

interface Outcome extends Encoded {
  started?: Encoded;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface EventBatcherOptions {
  /** An event larger than this (encoded) is published alone. */
  maxEventBytes?: number;
  /** Bound on one batch message (NATS max_payload is 1 MiB by default). */
  maxBatchBytes?: number;
  maxBatchEvents?: number;
}

/** The attempt an event belongs to: its STARTED and its outcome share it. */
const attemptKey = (ev: Pick<TaskEvent, "taskId" | "generation" | "attempt">) => `${ev.taskId}:${ev.generation}:${ev.attempt}`;

export class EventBatcher {
  private readonly held = new Map<string, Encoded>();
  private outcomes: Outcome[] = [];
  private scheduled = false;
  private readonly batchPrefix = randomUUID();
  private batches = 0;
  private readonly maxEventBytes: number;
  private readonly maxBatchBytes: number;
  private readonly maxBatchEvents: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly topo: Topology,
    opts: EventBatcherOptions = {},
  ) {
    this.maxEventBytes = opts.maxEventBytes ?? 16 * 1024;
    this.maxBatchBytes = opts.maxBatchBytes ?? 256 * 1024;
    this.maxBatchEvents = opts.maxBatchEvents ?? 512;
  }

  /** Batches published so far (for tests and stats). */
  get published(): number {
    return this.batches;
  }

  /**
   * A STARTED event: held until the turn ends, then published with its
   * outcome if that came meanwhile, else alone and unacknowledged, as before
   * (the outcome that follows is acknowledged, and the projection orders them).
   */
  started(ev: TaskEvent): void {
    const e = encodeEvent(ev);
    this.held.set(attemptKey(ev), { taskId: ev.taskId, ...e });
    this.schedule();
  }

  /** A terminal event: resolves once JetStream has stored it (alone or in a batch). */
  outcome(ev: TaskEvent): Promise<void> {
    const e = encodeEvent(ev);
    if (e.data.length > this.maxEventBytes) {
      this.release(ev);
      return publishEncodedEvent(this.js, this.topo, ev.taskId, e.eventId, e.data).then(() => undefined);
    }
    const started = this.take(ev);
    return new Promise((resolve, reject) => {
      this.outcomes.push({ taskId: ev.taskId, ...e, started, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Before an event of this attempt is published alone (PROGRESS, RETRY): its
   * held STARTED goes first, so the task's subject keeps its order.
   */
  release(ev: Pick<TaskEvent, "taskId" | "generation" | "attempt">): void {
    const s = this.take(ev);
    if (s) this.publishAlone(s);
  }

  /** The attempt's held STARTED, no longer held. */
  private take(ev: Pick<TaskEvent, "taskId" | "generation" | "attempt">): Encoded | undefined {
    const key = attemptKey(ev);
    const s = this.held.get(key);
    this.held.delete(key);
    return s;
  }

  /** A STARTED on its task's own subject, unacknowledged. */
  private publishAlone(s: Encoded): void {
    publishEncodedUnacked(this.nc, this.topo, s.taskId, s.eventId, s.data);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate: every job that finishes in this turn (a fetched batch of
    // predictions usually does) joins the batch; nothing waits on a timer.
    setImmediate(() => this.flush());
  }

  /** Publishes everything held now. */
  private flush(): void {
    this.scheduled = false;
    for (const s of this.held.values()) this.publishAlone(s);
    this.held.clear();
    const outcomes = this.outcomes;
    this.outcomes = [];
    let group: Outcome[] = [];
    let bytes = 0;
    let events = 0;
    for (const o of outcomes) {
      const size = o.data.length + (o.started?.data.length ?? 0) + 16;
      const count = o.started ? 2 : 1;
      if (group.length && (bytes + size > this.maxBatchBytes || events + count > this.maxBatchEvents)) {
        this.send(group);
        group = [];
        bytes = 0;
        events = 0;
      }
      group.push(o);
      bytes += size;
      events += count;
    }
    if (group.length) this.send(group);
  }

  private send(group: Outcome[]): void {
    let done: Promise<unknown>;
    const only = group[0];
    if (group.length === 1) {
      // One job's events: on its task's subject, as if never batched.
      if (only.started) this.publishAlone(only.started);
      done = publishEncodedEvent(this.js, this.topo, only.taskId, only.eventId, only.data);
    } else {
      const encoded: Uint8Array[] = [];
      for (const o of group) {
        if (o.started) encoded.push(o.started.data);
        encoded.push(o.data);
      }
      this.batches += 1;
      done = publishEventBatch(this.js, this.topo, encoded, `${this.batchPrefix}:${this.batches}`);
    }
    done.then(
      () => group.forEach((o) => o.resolve()),
      (err) => group.forEach((o) => o.reject(err)),
    );
  }
}
