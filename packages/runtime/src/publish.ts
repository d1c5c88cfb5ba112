import { headers, type JetStreamClient, type NatsConnection, type PubAck } from "nats";
import { Job, TaskEvent, TaskEventBatch, encodeMessage } from "@millrace/contracts";
import { DependencyUnavailableError } from "./errors";
import type { Topology } from "./topology";

/** Nats-Msg-Id of a job: the task id plus its manual-retry generation. */
export function jobMessageId(job: Pick<Job, "taskId" | "generation">): string {
  return job.generation ? `${job.taskId}:g${job.generation}` : job.taskId;
}

async function publishWithRetry(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  msgID: string,
  what: string,
  attempts: number,
  extraHeaders?: Record<string, string>,
): Promise<PubAck> {
  let lastErr: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const h = extraHeaders ? headers() : undefined;
      if (h && extraHeaders) for (const [k, v] of Object.entries(extraHeaders)) h.set(k, v);
      // Same msgID on every try: JetStream drops the duplicate if an earlier try landed.
      return await js.publish(subject, data, { msgID, timeout: 5_000, headers: h });
    } catch (err) {
      lastErr = err;
      if (i + 1 < attempts) await new Promise((r) => setTimeout(r, 100 * 2 ** i));
    }
  }
  throw new DependencyUnavailableError(`could not publish ${what}: ${(lastErr as Error)?.message ?? lastErr}`, { cause: lastErr });
}

/**
 * `republish` marks a reconciler's copy (the Millrace-Republish header): "1"
 * for a task left PENDING with no event, "lost" for a STARTED task that no
 * live worker holds. Workers decide from it whether the copy may run. A
 * "lost" copy has a Nats-Msg-Id of its own per attempt: JetStream keeps the
 * original's id for the duplicate window even once its message is gone, and
 * would drop the copy.
 */
export function publishJob(js: JetStreamClient, topo: Topology, job: Job, opts: { attempts?: number; republish?: "1" | "lost" } = {}): Promise<PubAck> {
  return publishWithRetry(
    js,
    topo.jobSubject(job.kind, job.queue),
    encodeMessage(Job, job),
    opts.republish === "lost" ? `${jobMessageId(job)}:a${job.attemptBase}` : jobMessageId(job),
    `job ${job.taskId}`,
    opts.attempts ?? 3,
    opts.republish ? { "Millrace-Republish": opts.republish } : undefined,
  );
}

/**
 * Publishes a job without waiting for JetStream's acknowledgement: the stream
 * stores it (deduped by its Nats-Msg-Id) all the same. For a job whose task
 * row, with the job in it, is already in Postgres: if the message is lost the
 * status service's reconciler republishes it (see Reconciler). Throws only
 * when the connection is closed. `encoded` is Job.encode(job) when the caller
 * has it already (the gateway stores the same bytes in the row).
 */
export function publishJobUnacked(nc: NatsConnection, topo: Topology, job: Job, encoded: Uint8Array = encodeMessage(Job, job)): void {
  publishUnacked(nc, topo.jobSubject(job.kind, job.queue), encoded, jobMessageId(job));
}

/** A core publish onto a stream's subject: stored and deduped by `msgID`, no acknowledgement awaited. */
function publishUnacked(nc: NatsConnection, subject: string, data: Uint8Array, msgID: string): void {
  const h = headers();
  h.set("Nats-Msg-Id", msgID);
  nc.publish(subject, data, { headers: h });
}

export function eventId(ev: Pick<TaskEvent, "taskId" | "generation" | "attempt" | "seq">): string {
  return `${ev.taskId}:${ev.generation}:${ev.attempt}:${ev.seq}`;
}

/** An event of a job's task: the task header copied from the job, the rest from `fields`. */
export function jobEvent(job: Job, fields: Partial<TaskEvent> & Pick<TaskEvent, "state">): TaskEvent {
  return TaskEvent.fromPartial({
    taskId: job.taskId,
    tenant: job.tenant,
    kind: job.kind,
    queue: job.queue,
    parentId: job.parentId,
    createdAtMs: job.createdAtMs,
    name: job.name,
    generation: job.generation,
    ...fields,
  });
}

/** The event with its id filled in (the deterministic one unless it has its own). */
function withEventId(ev: TaskEvent): TaskEvent {
  return ev.eventId ? ev : { ...ev, eventId: eventId(ev) };
}

export function publishEvent(js: JetStreamClient, topo: Topology, ev: TaskEvent, attempts = 5): Promise<PubAck> {
  const { eventId: id, data } = encodeEvent(ev);
  return publishEncodedEvent(js, topo, ev.taskId, id, data, attempts);
}

/** The encoded event with its id filled in, for callers that batch or size events. */
export function encodeEvent(ev: TaskEvent): { eventId: string; data: Uint8Array } {
  const withId = withEventId(ev);
  return { eventId: withId.eventId, data: encodeMessage(TaskEvent, withId) };
}

/**
 * Publishes events already encoded by encodeEvent as one TaskEventBatch on
 * events._batch.v1, deduped by `batchId` (the same on every try).
 */
export function publishEventBatch(js: JetStreamClient, topo: Topology, encoded: Uint8Array[], batchId: string, attempts = 5): Promise<PubAck> {
  // TaskEventBatch is `repeated TaskEvent events = 1`: each event is field 1,
  // length-delimited, so the already-encoded events are framed, not re-encoded.
  const w = TaskEventBatch.encode({ events: [] });
  for (const e of encoded) w.uint32(10).bytes(e);
  return publishWithRetry(js, topo.eventBatchSubject, w.finish(), batchId, `event batch ${batchId}`, attempts);
}

/** The events of a stored message from the events stream: a batch or a single event. */
export function decodeEvents(topo: Topology, subject: string, data: Uint8Array): TaskEvent[] {
  return subject === topo.eventBatchSubject ? TaskEventBatch.decode(data).events : [TaskEvent.decode(data)];
}

/** Keeps the raw job in the dead-letter stream (deduped per task generation). */
export async function publishDeadLetter(js: JetStreamClient, topo: Topology, job: Job, raw: Uint8Array, reason: string): Promise<PubAck> {
  return publishWithRetry(js, topo.deadLetterSubject(job.kind), raw, jobMessageId(job), `dead letter ${job.taskId}`, 3, {
    "Millrace-Reason": reason.slice(0, 200),
    "Millrace-Task-Id": job.taskId,
  });
}

/**
 * Publishes an encoded event without waiting for JetStream's acknowledgement:
 * it is still stored (and deduped by its Nats-Msg-Id), but the caller does not
 * pay the round trip. For events whose loss is harmless (a STARTED before an
 * outcome that is published with an ack).
 */
export function publishEncodedUnacked(nc: NatsConnection, topo: Topology, taskId: string, eventId: string, data: Uint8Array): void {
  publishUnacked(nc, topo.eventSubject(taskId), data, eventId);
}

/** publishEvent for an event already encoded by encodeEvent. */
export function publishEncodedEvent(js: JetStreamClient, topo: Topology, taskId: string, eventId: string, data: Uint8Array, attempts = 5): Promise<PubAck> {
  return publishWithRetry(js, topo.eventSubject(taskId), data, eventId, `event ${eventId}`, attempts);
}
