import type { Job } from "@millrace/contracts";
import { DependencyUnavailableError, inTransaction, type Clock, type Pool, type PoolClient } from "@millrace/runtime";
import { bindIdempotencyKey } from "./idempotency";
import { insertPending, type Pending } from "./pending";

export interface Recorded {
  /** The task the request stands for: the job's own, or an earlier one its Idempotency-Key named. */
  taskId: string;
  /** Nothing new was written: the task id existed, or the key named an earlier task. */
  existing: boolean;
  /** The key was used earlier with a different request. Nothing was written. */
  conflict: boolean;
}

export interface Idempotency {
  key: string;
  /** Hash of the request (method, path, canonical body); a different hash under the same key is a conflict. */
  requestHash: string;
}

export interface SubmissionsOptions {
  clock: Clock;
  /** How long an Idempotency-Key names its task. */
  idempotencyTtlMs: number;
  /** Rows per insert statement. */
  maxBatch?: number;
  /**
   * Bound on a record's wait for Postgres (default 5 s): past it the record
   * fails with DependencyUnavailableError (a 503 at the gateway) rather than
   * hanging on a stalled database. A record without an Idempotency-Key that
   * fails this way was not written: one still queued is dropped, and the
   * statement of one in flight is cancelled in Postgres and its outcome
   * awaited (if it committed first, the record succeeds, a little late). So a
   * client that retries a 503 does not also get the first task run.
   */
  timeoutMs?: number;
  /**
   * How long past timeoutMs an in-flight record waits for its cancelled
   * statement (default 2 s). Only when Postgres does not answer even the
   * cancel (a dead connection) does a record fail while its write may still
   * land; the reconciler then runs that task. A keyed record is bounded by
   * timeoutMs alone: a retry with its key gets the same task either way.
   */
  cancelGraceMs?: number;
}

interface Waiting extends Pending {
  resolve: (inserted: boolean) => void;
  reject: (e: unknown) => void;
  /** Date.now() past which the record is not written. */
  deadline: number;
  /** Taken into a batch: from then on only the batch's outcome answers it (or the grace bound). */
  sent: boolean;
  settled: boolean;
  timer?: NodeJS.Timeout;
}

/** Postgres's code for a statement cancelled by pg_cancel_backend. */
const QUERY_CANCELED = "57014";

/**
 * Records submitted tasks: the PENDING row that holds the job, written before
 * the job is published. That row is the record of truth: the status service's
 * reconciler republishes a task still PENDING with no event past its deadline.
 *
 * Jobs without an Idempotency-Key are group-committed: records that arrive
 * while one insert runs go together in the next statement, so under load
 * hundreds of submits a second become a few multi-row inserts. A keyed
 * record binds its key and writes its row in one transaction of its own.
 */
export class Submissions {
  private waiting: Waiting[] = [];
  private running = false;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly graceMs: number;

  constructor(
    private readonly pool: Pool,
    private readonly opts: SubmissionsOptions,
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.graceMs = opts.cancelGraceMs ?? 2_000;
  }

  /** `encoded`: Job.encode(job) when the caller has it already (it publishes the same bytes). */
  async record(job: Job, idempotency?: Idempotency, encoded?: Uint8Array): Promise<Recorded> {
    if (idempotency?.key) return this.bounded(this.recordKeyed(job, idempotency, encoded));
    const inserted = await this.enqueue({ job, encoded });
    return { taskId: job.taskId, existing: !inserted, conflict: false };
  }

  private notRecorded(): DependencyUnavailableError {
    return new DependencyUnavailableError(`Postgres did not record the task within ${this.timeoutMs} ms; it was not recorded`);
  }

  /** The write's outcome, or DependencyUnavailableError once timeoutMs has passed. */
  private bounded<T>(write: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DependencyUnavailableError(`Postgres did not record the task within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([write, timeout]).finally(() => clearTimeout(timer));
  }

  private recordKeyed(job: Job, idem: Idempotency, encoded?: Uint8Array): Promise<Recorded> {
    const nowMs = this.opts.clock.now();
    return inTransaction(this.pool, async (client) => {
      const bound = await bindIdempotencyKey(client, { tenant: job.tenant, key: idem.key, requestHash: idem.requestHash, taskId: job.taskId, nowMs, ttlMs: this.opts.idempotencyTtlMs });
      if (bound.existing) return { taskId: bound.taskId, existing: true, conflict: bound.conflict };
      const inserted = await insertPending(client, [{ job, encoded }], nowMs);
      return { taskId: job.taskId, existing: !inserted.has(job.taskId), conflict: false };
    });
  }

  private enqueue(p: Pending): Promise<boolean> {
    return new Promise((resolve, reject) => {
      // Spelled out rather than `{ ...p, resolve, ... }`: on Node 20 a spread
      // followed by properties the source lacks defines each one through a
      // slow runtime path, about 0.6 µs apiece, and this runs for every submit.
      const w: Waiting = { job: p.job, encoded: p.encoded, resolve, reject, deadline: Date.now() + this.timeoutMs, sent: false, settled: false, timer: undefined };
      w.timer = setTimeout(() => this.expire(w), this.timeoutMs);
      this.waiting.push(w);
      // Started on the next turn rather than at once: callers that record
      // several jobs in one turn (a batched RPC, a burst of requests read
      // from one socket read) share the statement instead of the first going
      // alone while the rest wait a whole insert behind it.
      if (!this.running && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          if (!this.running) void this.run();
        });
      }
    });
  }

  private settle(w: Waiting, outcome: { inserted: boolean } | { err: unknown }): void {
    if (w.settled) return;
    w.settled = true;
    clearTimeout(w.timer);
    if ("err" in outcome) w.reject(outcome.err);
    else w.resolve(outcome.inserted);
  }

  /** timeoutMs has passed: a queued record is dropped unwritten; one in flight waits for its cancelled statement, up to the grace. */
  private expire(w: Waiting): void {
    if (w.settled) return;
    if (!w.sent) {
      const i = this.waiting.indexOf(w);
      if (i >= 0) this.waiting.splice(i, 1);
      this.settle(w, { err: this.notRecorded() });
      return;
    }
    w.timer = setTimeout(() => {
      this.settle(w, { err: new DependencyUnavailableError(`Postgres answered neither the insert nor its cancel within ${this.timeoutMs + this.graceMs} ms; the task may still be recorded`) });
    }, this.graceMs);
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length) {
        const batch = this.waiting.splice(0, this.maxBatch);
        for (const b of batch) b.sent = true;
        await this.insertBatch(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async insertBatch(batch: Waiting[]): Promise<void> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      for (const b of batch) this.settle(b, { err });
      return;
    }
    // Records whose time ran out while a connection was found are not written.
    const now = Date.now();
    const live: Waiting[] = [];
    let deadline = Number.POSITIVE_INFINITY;
    for (const b of batch) {
      if (b.settled) continue;
      if (b.deadline <= now) {
        this.settle(b, { err: this.notRecorded() });
        continue;
      }
      live.push(b);
      if (b.deadline < deadline) deadline = b.deadline;
    }
    if (!live.length) {
      client.release();
      return;
    }
    // At the earliest record's deadline the statement is cancelled in Postgres;
    // the records are answered by what the statement did, never by a guess.
    let cancelled = false;
    const pid = (client as unknown as { processID?: number }).processID;
    const canceller = setTimeout(() => {
      cancelled = true;
      if (pid !== undefined) void this.pool.query("select pg_cancel_backend($1)", [pid]).catch(() => undefined);
    }, deadline - now);
    try {
      const inserted = await insertPending(client, live, this.opts.clock.now());
      clearTimeout(canceller);
      client.release();
      for (const b of live) this.settle(b, { inserted: inserted.has(b.job.taskId) });
    } catch (err) {
      clearTimeout(canceller);
      const wasCancel = cancelled && (err as { code?: string }).code === QUERY_CANCELED;
      // A cancelled statement leaves the connection usable; anything else may not have.
      client.release(wasCancel ? undefined : true);
      for (const b of live) this.settle(b, { err: wasCancel ? this.notRecorded() : err });
    }
  }
}
