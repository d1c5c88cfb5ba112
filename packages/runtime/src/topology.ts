import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type JetStreamManager,
  type NatsConnection,
  type StreamConfig,
  type ConsumerConfig,
} from "nats";

/** Job kinds. Each kind + queue pair gets its own subject and durable consumer. */
export const JOB_KINDS = [
  "train",
  "predict",
  "explain",
  "pipeline",
  "forecast",
  "train_product",
  "train_all_products",
  "maintenance",
  "workflow",
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** What a `maintenance` job may do (the trainer runs them; anything else is refused before it is queued). */
export const MAINTENANCE_ACTIONS = ["cleanup_expired_results", "validate_models"] as const;

export const QUEUES = ["default", "high", "batch"] as const;
export type QueueName = (typeof QUEUES)[number];

export function isJobKind(s: string): s is JobKind {
  return (JOB_KINDS as readonly string[]).includes(s);
}
export function isQueue(s: string): s is QueueName {
  return (QUEUES as readonly string[]).includes(s);
}

/**
 * Every JetStream name Millrace uses, derived from one namespace. The empty
 * namespace gives the production names (`jobs.train.default`, MILLRACE_JOBS);
 * tests pass a unique namespace so they never share a stream or consumer.
 */
export class Topology {
  readonly ns: string;
  private readonly subjectPrefix: string;
  private readonly namePrefix: string;

  constructor(ns = "") {
    this.ns = ns;
    this.subjectPrefix = ns ? `${ns}.` : "";
    this.namePrefix = ns ? `${ns.toUpperCase()}_` : "MILLRACE_";
  }

  get jobsStream(): string {
    return `${this.namePrefix}JOBS`;
  }
  get eventsStream(): string {
    return `${this.namePrefix}EVENTS`;
  }
  get deadLetterStream(): string {
    return `${this.namePrefix}DLQ`;
  }
  jobSubject(kind: string, queue: string): string {
    return `${this.subjectPrefix}jobs.${kind}.${queue}`;
  }
  get jobsWildcard(): string {
    return `${this.subjectPrefix}jobs.>`;
  }
  eventSubject(taskId: string): string {
    return `${this.subjectPrefix}events.${taskId}`;
  }
  /**
   * Where workers publish TaskEventBatch messages. Three tokens, so it never
   * equals a task's two-token events.<task_id>; inside events.>, so the
   * projector's consumer reads both.
   */
  get eventBatchSubject(): string {
    return `${this.subjectPrefix}events._batch.v1`;
  }
  get eventsWildcard(): string {
    return `${this.subjectPrefix}events.>`;
  }
  deadLetterSubject(kind: string): string {
    return `${this.subjectPrefix}dlq.${kind}`;
  }
  get deadLetterWildcard(): string {
    return `${this.subjectPrefix}dlq.>`;
  }
  jobConsumer(kind: string, queue: string): string {
    return `${kind}_${queue}`;
  }
  get projectorConsumer(): string {
    return "status_projector";
  }
  /** Core-NATS subjects (not stored). */
  cancelSubject(taskId: string): string {
    return `${this.subjectPrefix}millrace.cancel.${taskId}`;
  }
  get cancelWildcard(): string {
    return `${this.subjectPrefix}millrace.cancel.>`;
  }
  /** Core-NATS notices of task changes, one TaskChangedBatch per projection commit. */
  get changedBatch(): string {
    return `${this.subjectPrefix}millrace.changed.batch`;
  }
  /** Core-NATS notice that a model version or alias changed (cache invalidation). */
  get modelsChanged(): string {
    return `${this.subjectPrefix}millrace.models.changed`;
  }
  get maxDeliveriesAdvisory(): string {
    return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.jobsStream}.*`;
  }
  bucket(name: "revocations" | "leases" | "workers" | "limits" | "claims" | "revoked_tokens"): string {
    return `${this.namePrefix}${name}`;
  }
  objectStore(name: "datasets" | "models"): string {
    return `${this.namePrefix}${name}`;
  }
}

export interface TopologyOptions {
  /** How long a worker holds a job before JetStream redelivers it. */
  ackWaitMs?: number;
  /** Consumer-level ceiling; per-job max_attempts is enforced by the worker below it. */
  maxDeliver?: number;
  maxAckPending?: number;
  /** Dedupe window for job publishes; covers the gateway's and reconciler's retry horizon. */
  jobsDuplicateWindowMs?: number;
  eventsMaxAgeMs?: number;
  heartbeatTtlMs?: number;
  /** How long a run claim is kept after its last write. */
  claimsTtlMs?: number;
  replicas?: number;
}

export const DEFAULT_TOPOLOGY: Required<TopologyOptions> = {
  ackWaitMs: 30_000,
  maxDeliver: 20,
  maxAckPending: 1_000,
  jobsDuplicateWindowMs: 10 * 60_000,
  eventsMaxAgeMs: 7 * 24 * 3_600_000,
  heartbeatTtlMs: 30_000,
  claimsTtlMs: 24 * 3_600_000,
  replicas: 1,
};

function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number }; message?: string };
  return e?.code === "404" || e?.api_error?.err_code === 10059 || e?.api_error?.err_code === 10014 || /not found/i.test(e?.message ?? "");
}

async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<"created" | "exists"> {
  try {
    await jsm.streams.info(cfg.name);
    return "exists";
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await jsm.streams.add(cfg);
    return "created";
  } catch (err) {
    // Another service created it between our info and add.
    if (/already in use|exists/i.test(String((err as Error).message))) return "exists";
    throw err;
  }
}

async function ensureConsumer(jsm: JetStreamManager, stream: string, cfg: Partial<ConsumerConfig> & { durable_name: string }): Promise<"created" | "exists"> {
  try {
    await jsm.consumers.info(stream, cfg.durable_name);
    return "exists";
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await jsm.consumers.add(stream, cfg);
    return "created";
  } catch (err) {
    if (/already in use|exists/i.test(String((err as Error).message))) return "exists";
    throw err;
  }
}

/**
 * Creates streams, consumers, KV buckets and object stores if missing. Safe to
 * call from every service at start-up: a second call changes nothing.
 */
export async function ensureTopology(nc: NatsConnection, topo: Topology, options: TopologyOptions = {}): Promise<{ created: string[] }> {
  const o = { ...DEFAULT_TOPOLOGY, ...options };
  const jsm = await nc.jetstreamManager();
  const created: string[] = [];
  const note = (what: string, r: "created" | "exists") => {
    if (r === "created") created.push(what);
  };

  note(
    topo.jobsStream,
    await ensureStream(jsm, {
      name: topo.jobsStream,
      subjects: [topo.jobsWildcard],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(o.jobsDuplicateWindowMs),
      num_replicas: o.replicas,
    }),
  );
  note(
    topo.eventsStream,
    await ensureStream(jsm, {
      name: topo.eventsStream,
      subjects: [topo.eventsWildcard],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(o.eventsMaxAgeMs),
      duplicate_window: nanos(120_000),
      num_replicas: o.replicas,
    }),
  );
  note(
    topo.deadLetterStream,
    await ensureStream(jsm, {
      name: topo.deadLetterStream,
      subjects: [topo.deadLetterWildcard],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(30 * 24 * 3_600_000),
      num_replicas: o.replicas,
    }),
  );

  for (const kind of JOB_KINDS) {
    for (const queue of QUEUES) {
      note(
        `${topo.jobsStream}/${topo.jobConsumer(kind, queue)}`,
        await ensureConsumer(jsm, topo.jobsStream, {
          durable_name: topo.jobConsumer(kind, queue),
          filter_subject: topo.jobSubject(kind, queue),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(o.ackWaitMs),
          max_deliver: o.maxDeliver,
          max_ack_pending: o.maxAckPending,
        }),
      );
    }
  }
  note(
    `${topo.eventsStream}/${topo.projectorConsumer}`,
    await ensureConsumer(jsm, topo.eventsStream, {
      durable_name: topo.projectorConsumer,
      filter_subject: topo.eventsWildcard,
      // Explicit, not ack-all: status runs several replicas on this one
      // consumer, and an ack-all from one replica would also ack the events
      // another replica holds uncommitted, losing them if that replica dies.
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(30_000),
      max_deliver: -1,
      max_ack_pending: 20_000,
    }),
  );

  const js = nc.jetstream();
  // Views create the bucket when missing and bind to it when present.
  await js.views.kv(topo.bucket("revocations"), { history: 1, replicas: o.replicas });
  await js.views.kv(topo.bucket("leases"), { history: 1, replicas: o.replicas });
  // The bucket TTL expires heartbeats of workers that died without saying so.
  await js.views.kv(topo.bucket("workers"), { history: 1, ttl: o.heartbeatTtlMs, replicas: o.replicas });
  await js.views.kv(topo.bucket("limits"), { history: 1, replicas: o.replicas });
  // Run claims (the worker's claims.ts) outlive their run so a late twin is
  // skipped; the bucket TTL, past the duplicate window and the result TTL, drops them.
  await js.views.kv(topo.bucket("claims"), { history: 1, ttl: o.claimsTtlMs, replicas: o.replicas });
  // Revoked bearer tokens (the gateway's token-revocations.ts). No TTL: an
  // entry must outlive its token, and deploy/revoke-token.ts --prune drops
  // the ones whose token has expired.
  await js.views.kv(topo.bucket("revoked_tokens"), { history: 1, replicas: o.replicas });
  await js.views.os(topo.objectStore("datasets"), { replicas: o.replicas });
  await js.views.os(topo.objectStore("models"), { replicas: o.replicas });
  return { created };
}

/** Removes everything a namespace created (tests clean up after themselves). */
export async function destroyTopology(nc: NatsConnection, topo: Topology): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const names = [
    topo.jobsStream,
    topo.eventsStream,
    topo.deadLetterStream,
    `KV_${topo.bucket("revocations")}`,
    `KV_${topo.bucket("leases")}`,
    `KV_${topo.bucket("workers")}`,
    `KV_${topo.bucket("limits")}`,
    `KV_${topo.bucket("claims")}`,
    `KV_${topo.bucket("revoked_tokens")}`,
    `OBJ_${topo.objectStore("datasets")}`,
    `OBJ_${topo.objectStore("models")}`,
  ];
  for (const n of names) {
    try {
      await jsm.streams.delete(n);
    } catch {
      /* already gone */
    }
  }
}
