import type { Job } from "@millrace/contracts";
import { DependencyUnavailableError, inTransaction, type Clock, type Pool } from "@millrace/runtime";
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
   * hanging on a stalled database. The write may still land afterwards; the
   * task is then run by the reconciler like any unpublished one, and a client
   * retrying with the same Idempotency-Key gets that task.
   */
  timeoutMs?: number;
}

interface Waiting extends Pending {
  resolve: (inserted: boolean) => void;
  reject: (e: unknown) => void;
}

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

  constructor(
    private readonly pool: Pool,
    private readonly opts: SubmissionsOptions,
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  /** `encoded`: Job.encode(job) when the caller has it already (it publishes the same bytes). */
  async record(job: Job, idempotency?: Idempotency, encoded?: Uint8Array): Promise<Recorded> {
    if (idempotency?.key) return this.bounded(this.recordKeyed(job, idempotency, encoded));
    const inserted = await this.bounded(this.enqueue({ job, encoded }));
    return { taskId: job.taskId, existing: !inserted, conflict: false };
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
      this.waiting.push({ ...p, resolve, reject });
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

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length) {
        const batch = this.waiting.splice(0, this.maxBatch);
        try {
          const inserted = await insertPending(this.pool, batch, this.opts.clock.now());
          for (const b of batch) b.resolve(inserted.has(b.job.taskId));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
