import { hostname } from "node:os";
import type { JetStreamClient, JsMsg, KV, NatsConnection, Subscription } from "nats";
import { CancelNotice, Job, StatusServiceClient, TaskState, WorkerHeartbeat, type Progress, type RetryPolicy, type TaskError, type TimeLimits } from "@millrace/contracts";
import {
  call,
  DEFAULT_RETRY,
  errorMessage,
  errorType,
  errorCode,
  isRetryable,
  expiredError,
  isTerminal,
  lateForStart,
  mergeRetry,
  publishDeadLetter,
  retryDelayMs,
  systemClock,
  type Clock,
  type Logger,
  type Topology,
} from "@millrace/runtime";
import { NoHandlerError, TaskRevokedError, TimeLimitExceeded, WorkerShutdownError } from "./errors";
import { EventBatcher } from "./event-batch";
import { RunClaims } from "./claims";
import { AttemptEvents } from "./events";
import { concurrencyKey, Limits, type LimitPolicy } from "./limits";
import { RevocationCache } from "./revocations";

export interface JobContext {
  job: Job;
  attempt: number;
  /** Effective limits (the request's, else the kind's defaults); 0 = none. */
  timeLimits: { softMs: number; hardMs: number };
  /** Aborted on cancel, soft time limit or shutdown; `signal.reason` says which. */
  signal: AbortSignal;
  logger: Logger;
  /** Emits a PROGRESS event and renews the job's lease. */
  progress(p: Partial<Progress>): Promise<void>;
  /**
   * Registers how to stop the work by force (terminate its thread). Called on
   * the hard time limit, and after the cancel grace period.
   */
  onHardStop(fn: () => void): void;
}

export type JobHandler = (ctx: JobContext) => Promise<unknown>;

export interface KindPolicy {
  retry?: Partial<RetryPolicy>;
  timeLimits?: Partial<TimeLimits>;
  /** Rate and per-key concurrency limits that hold across all replicas. */
  limits?: LimitPolicy;
}

export interface WorkerOptions {
  service: string;
  nc: NatsConnection;
  topo: Topology;
  queues: string[];
  handlers: Record<string, JobHandler>;
  /** Jobs run at once by this worker, across all its consumers. */
  concurrency: number;
  ackWaitMs: number;
  logger: Logger;
  clock?: Clock;
  workerId?: string;
  backend?: string;
  policies?: Record<string, KindPolicy>;
  /** Checks a redelivered job's task state (idempotency per task id). */
  status?: InstanceType<typeof StatusServiceClient>;
  /** How long a cancelled job may take to stop before it is forced. */
  cancelGraceMs?: number;
  heartbeatEveryMs?: number;
  /** How often every consumer is re-checked (redeliveries ring no doorbell). */
  sweepEveryMs?: number;
  /**
   * "slots" (default) fetches only as many jobs as there are free slots: right
   * for long jobs, which must not wait in a client buffer while their ack
   * timer runs. "stream" keeps a continuous pull per consumer with a buffer
   * of `concurrency` messages: right for short jobs (predictions) at high rates.
   */
  mode?: "slots" | "stream";
  random?: () => number;
  /**
   * A delivery this long after its task was submitted may have a twin, so it
   * takes a run claim first (see claims.ts); younger ones cost nothing. A
   * reconciler's copy is only stored beside its original once the original
   * is older than the jobs stream's duplicate window (10 min; inside it
   * JetStream drops the copy), or, for a task whose worker was lost, older
   * than RECONCILE_LOST_AFTER_MS (5 min). Keep this well below both.
   */
  claimAfterMs?: number;
}

/**
 * One attempt of one job, from its decoding to its outcome. Its costly parts
 * are made only when needed, since the predictor runs thousands of tiny jobs
 * a second: the child logger on first log, the AbortController when the
 * handler first reads `ctx.signal` (a cancel before that is kept here and
 * handed to the signal when it is made), the forced stop after an abort when
 * one happens. Leases are renewed by one timer per worker (see renewLeases).
 */
class Run {
  aborted = false;
  reason: unknown = undefined;
  hardStops: Array<() => void> | undefined = undefined;
  /** The highest progress percent reported in this attempt. */
  percent = 0;
  /** Rejects the awaited outcome: hard time limit, or an abort's grace ran out. */
  fail: ((err: unknown) => void) | undefined = undefined;
  /** performance.now() at which the lease is next renewed. */
  renewAt = 0;
  limitKey: string | undefined = undefined;
  /** This delivery holds its task's run claim. */
  claimed = false;
  /** The message was acked or termed with a terminal outcome (not handed back or retried). */
  terminal = false;
  private controller: AbortController | undefined = undefined;
  private log: Logger | undefined = undefined;
  private graceTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly job: Job,
    readonly attempt: number,
    readonly msg: JsMsg,
    readonly events: AttemptEvents,
    private readonly parentLog: Logger,
    private readonly cancelGraceMs: number,
  ) {}

  get logger(): Logger {
    return (this.log ??= this.parentLog.child({ task_id: this.job.taskId, kind: this.job.kind, attempt: this.attempt }));
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Cancel, soft time limit or shutdown; the first reason wins. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    // Work that ignores the abort is forced after the grace period.
    this.graceTimer = setTimeout(() => {
      this.runHardStops();
      this.fail?.(reason);
    }, this.cancelGraceMs);
    this.graceTimer.unref();
    this.controller?.abort(reason);
  }

  /** The attempt is over: a pending forced stop must not hit work that has ended (or a thread reused since). */
  settled(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.hardStops = undefined;
  }

  runHardStops(): void {
    if (this.hardStops) for (const fn of this.hardStops) fn();
  }
}

/**
 * Pulls jobs for the kinds and queues this worker serves, runs their handler,
 * emits task events and acks a job only once its outcome event is stored.
 * Retries with backoff (nak with delay), time limits, cancellation, dead
 * letters and idempotency per task id live here, shared by every worker.
 */
export class Worker {
  readonly workerId: string;
  /** This worker's key in the workers KV bucket: its id with the characters a KV key cannot hold replaced. */
  readonly heartbeatKey: string;
  private readonly clock: Clock;
  private readonly running = new Map<string, Run>();
  /** Runs whose lease the lease timer renews (a Set: a task id may run twice). */
  private readonly leased = new Set<Run>();
  private leaseTimer?: NodeJS.Timeout;
  private readonly leaseEveryMs: number;
  private jsClient?: JetStreamClient;
  private eventBatcher?: EventBatcher;
  private free: number;
  private stopping = false;
  private cancelSub?: Subscription;
  private heartbeatTimer?: NodeJS.Timeout;
  private heartbeatSoonTimer?: NodeJS.Timeout;
  /** Task ids in the last heartbeat sent: one that finishes is taken out by the next "soon" heartbeat. */
  private announced = new Set<string>();
  private workers?: KV;
  private revocations!: RevocationCache;
  private limits!: Limits;
  private claims!: RunClaims;
  private readonly startedAt: number;
  processed = 0;
  failed = 0;
  /** Jobs held while they wait for a rate token or concurrency slot. */
  waitingForLimits = 0;

  constructor(private readonly o: WorkerOptions) {
    this.clock = o.clock ?? systemClock;
    this.workerId = o.workerId ?? `${o.service}-${hostname()}-${process.pid}`;
    this.heartbeatKey = this.workerId.replace(/[^A-Za-z0-9_=.-]/g, "_");
    this.free = o.concurrency;
    this.startedAt = Date.now();
    this.leaseEveryMs = Math.max(250, Math.floor(o.ackWaitMs / 3));
  }

  /** One JetStream client for every job (nc.jetstream() builds a new one each call). */
  private get js(): JetStreamClient {
    return (this.jsClient ??= this.o.nc.jetstream());
  }

  /** Publishes the STARTED and outcome events of jobs ending in the same turn together. */
  private get batcher(): EventBatcher {
    return (this.eventBatcher ??= new EventBatcher(this.o.nc, this.js, this.o.topo));
  }

  get kinds(): string[] {
    return Object.keys(this.o.handlers);
  }

  /** The tasks running now, with their tenants (heartbeats; GET /v1/workers filters by tenant). */
  get inFlight(): { taskId: string; tenant: string }[] {
    return [...this.running.values()].map((r) => ({ taskId: r.job.taskId, tenant: r.job.tenant }));
  }

  async start(): Promise<void> {
    const js = this.js;
    this.revocations = new RevocationCache(await js.views.kv(this.o.topo.bucket("revocations")), this.o.logger);
    this.limits = new Limits(await js.views.kv(this.o.topo.bucket("limits")), this.clock, Math.max(30_000, this.o.ackWaitMs));
    // A claim not renewed for three ack timeouts has lost its holder (renewals come every third of one).
    this.claims = new RunClaims(await js.views.kv(this.o.topo.bucket("claims")), this.clock, this.workerId, 3 * this.o.ackWaitMs);
    await this.revocations.start();
    this.workers = await js.views.kv(this.o.topo.bucket("workers"));
    this.cancelSub = this.o.nc.subscribe(this.o.topo.cancelWildcard, {
      callback: (_err, m) => {
        try {
          const notice = CancelNotice.decode(m.data);
          this.revocations.add(notice.taskId);
          this.cancelRunning(notice.taskId, notice.reason);
        } catch {
          /* not a notice */
        }
      },
    });
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.o.heartbeatEveryMs ?? 5_000);
    this.heartbeatTimer.unref();
    if (this.o.mode === "stream") for (const kind of this.kinds) for (const queue of this.o.queues) void this.streamFrom(kind, queue);
    else this.startPulling();
    this.o.logger.info({ worker_id: this.workerId, kinds: this.kinds, queues: this.o.queues, concurrency: this.o.concurrency }, "worker started");
  }

  /**
   * Pull scheduling. A worker serves several (kind, queue) consumers with a
   * fixed number of slots, and fetches only as many jobs as it has free slots,
   * so no job waits in a client buffer while its ack timer runs (which would
   * redeliver it). A consumer is fetched from when it is "ready": a core-NATS
   * doorbell saw a job published on its subject, its last fetch came back
   * full, or the periodic sweep (which finds redeliveries and delayed retries,
   * since those ring no doorbell). Higher-priority queues are served first.
   */
  private readonly ready = new Set<string>();
  private readonly fetching = new Set<string>();
  private order: { key: string; kind: string; queue: string }[] = [];
  private sweepTimer?: NodeJS.Timeout;
  private doorbells: Subscription[] = [];

  private startPulling(): void {
    const rank = (q: string) => (q === "high" ? 0 : q === "default" ? 1 : q === "batch" ? 3 : 2);
    this.order = this.kinds
      .flatMap((kind) => this.o.queues.map((queue) => ({ key: `${kind}|${queue}`, kind, queue })))
      .sort((a, b) => rank(a.queue) - rank(b.queue));
    for (const c of this.order) {
      this.ready.add(c.key);
      this.doorbells.push(
        this.o.nc.subscribe(this.o.topo.jobSubject(c.kind, c.queue), {
          callback: () => {
            if (!this.ready.has(c.key)) {
              this.ready.add(c.key);
              this.pump();
            }
          },
        }),
      );
    }
    this.sweepTimer = setInterval(() => {
      for (const c of this.order) this.ready.add(c.key);
      this.pump();
    }, this.o.sweepEveryMs ?? 1_000);
    this.sweepTimer.unref();
    this.pump();
  }

  private pump(): void {
    while (!this.stopping && this.free > 0) {
      const next = this.order.find((c) => this.ready.has(c.key) && !this.fetching.has(c.key));
      if (!next) return;
      // Fetch for up to half the free slots, so one busy queue cannot starve the others.
      const want = Math.max(1, Math.min(this.free, Math.ceil(this.o.concurrency / 2)));
      this.free -= want;
      this.ready.delete(next.key);
      this.fetching.add(next.key);
      void this.fetchFrom(next.kind, next.queue, next.key, want);
    }
  }

  private readonly streams: Array<{ stop(): void }> = [];
  private slotWaiters: Array<() => void> = [];

  /** Stream mode: a continuous pull; each message waits for a slot, then runs. */
  private async streamFrom(kind: string, queue: string): Promise<void> {
    try {
      const consumer = await this.js.consumers.get(this.o.topo.jobsStream, this.o.topo.jobConsumer(kind, queue));
      const messages = await consumer.consume({ max_messages: this.o.concurrency });
      this.streams.push(messages);
      for await (const m of messages) {
        while (this.free <= 0 && !this.stopping) await new Promise<void>((r) => this.slotWaiters.push(r));
        if (this.stopping) {
          m.nak(); // hand it back at once
          continue;
        }
        this.free -= 1;
        void this.handle(m)
          .catch((err) => this.o.logger.error({ err: errorMessage(err) }, "job handling failed"))
          .finally(() => this.release());
      }
    } catch (err) {
      if (!this.stopping) this.o.logger.error({ err: errorMessage(err), kind, queue }, "job stream ended");
    }
  }

  private release(n = 1): void {
    this.free += n;
    for (let i = 0; i < n; i++) this.slotWaiters.shift()?.();
    if (this.free >= this.o.concurrency) for (const w of this.idleWaiters.splice(0)) w();
    this.pump();
  }

  private idleWaiters: Array<() => void> = [];
  /** Woken when the last running job has settled (drain waits on it). */
  private noneRunningWaiters: Array<() => void> = [];

  private noneRunning(): Promise<void> {
    return this.running.size ? new Promise((r) => this.noneRunningWaiters.push(r)) : Promise.resolve();
  }

  private async fetchFrom(kind: string, queue: string, key: string, want: number): Promise<void> {
    let got = 0;
    try {
      // no_wait: the server answers at once with what is there, so an empty
      // consumer never holds a slot. (The newer consumer.fetch needs a 1 s expiry.)
      const batch = this.js.fetch(this.o.topo.jobsStream, this.o.topo.jobConsumer(kind, queue), { batch: want, no_wait: true });
      // A no-wait pull that got part of its batch can be left open by the
      // server; end it ourselves rather than hold its slots forever.
      const guard = setTimeout(() => batch.stop(), 1_000);
      guard.unref();
      for await (const m of batch) {
        got += 1;
        void this.handle(m)
          .catch((err) => this.o.logger.error({ err: errorMessage(err) }, "job handling failed"))
          .finally(() => this.release());
      }
      clearTimeout(guard);
      // A full batch means there may be more waiting.
      if (got === want) this.ready.add(key);
    } catch (err) {
      if (!this.stopping) {
        this.o.logger.warn({ err: errorMessage(err), kind, queue }, "fetch failed; the sweep will retry");
      }
    } finally {
      this.fetching.delete(key);
      this.release(want - got);
    }
  }

  private policy(job: Job): { retry: RetryPolicy; soft: number; hard: number } {
    const p = this.o.policies?.[job.kind] ?? {};
    const base = mergeRetry(DEFAULT_RETRY, p.retry);
    const retry = job.retry ? mergeRetry(base, job.retry) : base;
    const soft = job.timeLimits?.softMs || p.timeLimits?.softMs || 0;
    const hard = job.timeLimits?.hardMs || p.timeLimits?.hardMs || 0;
    return { retry, soft, hard };
  }

  /**
   * Whether this delivery is a copy of work that is done or under way, and so
   * must not run: a redelivery whose task has finished, or the first delivery
   * of a reconciler's republish whose task has left PENDING. The reconciler
   * republishes every task PENDING past its deadline, including ones merely
   * queued behind a backlog; once JetStream's duplicate window has passed, the
   * copy is stored beside the original, and without this check the two could
   * run at once. (A republished copy that is itself redelivered may have
   * started the task, so it is held to the finished test only.) If the status
   * service cannot be asked, the job runs: at least once.
   */
  private async redundant(job: Job, deliveries: number, republish: string | undefined, mayHaveCopy: boolean): Promise<boolean> {
    if (!this.o.status || (deliveries <= 1 && !mayHaveCopy)) return false;
    try {
      const t = await call(this.o.status, this.o.status.getTask, { tenant: job.tenant, taskId: job.taskId }, 5_000, "status");
      if (isTerminal(t.state) && t.attempts >= job.attemptBase) return true;
      // A copy of a task that was PENDING with no event ("1") is moot once the task has started;
      // a copy of a task whose worker was lost ("lost") was made because it had started.
      return republish === "1" && deliveries <= 1 && t.state !== TaskState.PENDING;
    } catch {
      return false;
    }
  }

  private async handle(msg: JsMsg): Promise<void> {
    let job: Job;
    try {
      job = Job.decode(msg.data);
    } catch (err) {
      this.o.logger.error({ err: errorMessage(err), seq: msg.seq }, "undecodable job; terminating");
      msg.term();
      return;
    }
    const js = this.js;
    const deliveries = msg.info.redeliveryCount;
    const attempt = job.attemptBase + deliveries;
    const events = new AttemptEvents(this.batcher, js, this.o.topo, this.clock, job, attempt, this.workerId);
    // run.logger (the child logger with task_id, kind, attempt) is made on first use.
    const run = new Run(job, attempt, msg, events, this.o.logger, this.o.cancelGraceMs ?? 800);

    const republish = msg.headers?.get("Millrace-Republish") || undefined;
    const mayHaveCopy = republish !== undefined || this.clock.now() - Number(job.createdAtMs) >= (this.o.claimAfterMs ?? 60_000);
    // A redelivery of a finished task, or a republished copy of one that has started, is skipped.
    if (await this.redundant(job, deliveries, republish, mayHaveCopy)) {
      run.logger.info("task finished or started elsewhere; acking duplicate delivery");
      msg.ack();
      return;
    }
    // Another message of this task may be running (or have run): one of them takes the claim.
    if (mayHaveCopy) {
      const claim = await this.claims.claim(job, msg.seq);
      if (claim === "duplicate") {
        run.logger.info({ seq: msg.seq }, "another message of this task holds its run claim; acking this one unrun");
        msg.ack();
        return;
      }
      run.claimed = true;
    }
    try {
      // Only a task's first start can miss its start_by: a retry, or a lost worker's task run again, had started in time.
      const mayExpire = job.startByMs > 0 && deliveries <= 1 && republish !== "lost";
      await this.attempt(run, msg, job, events, deliveries, attempt, mayExpire);
    } finally {
      if (run.claimed) {
        if (run.terminal) await this.claims.finish(job, msg.seq).catch((e) => run.logger.warn({ err: errorMessage(e) }, "could not mark the run claim done"));
        else this.claims.forget(job);
      }
    }
  }

  /** The rest of handle(): revocation, exhausted deliveries, limits, then the handler itself. */
  private async attempt(run: Run, msg: JsMsg, job: Job, events: AttemptEvents, deliveries: number, attempt: number, mayExpire: boolean): Promise<void> {
    const js = this.js;
    const { retry, soft, hard } = this.policy(job);
    // A queued task that was revoked never starts.
    if (this.revocations.has(job.taskId)) {
      await events.failure({ type: "TaskRevoked", message: "revoked before it started", code: "REVOKED", retryable: false }, TaskState.REVOKED);
      msg.ack();
      run.terminal = true;
      run.logger.info("revoked before start");
      return;
    }
    if (mayExpire && (await this.expired(run, msg, job, events))) return;
    // Earlier deliveries ended with no outcome (the worker died each time).
    if (deliveries > retry.maxAttempts) {
      const error: TaskError = { type: "WorkerLost", message: `no outcome after ${deliveries - 1} deliveries (worker lost)`, code: "WORKER_LOST", retryable: false };
      await publishDeadLetter(js, this.o.topo, job, msg.data, error.message);
      await events.failure(error);
      msg.term();
      run.terminal = true;
      this.failed += 1;
      run.logger.error("attempts exhausted by lost workers; dead-lettered");
      return;
    }

    // Global limits: wait (keeping the job's lease) for a rate token and a
    // concurrency slot; a cancel while waiting still revokes it.
    const limitPolicy = this.o.policies?.[job.kind]?.limits;
    const limitKey = limitPolicy?.concurrencyPerKey ? concurrencyKey(job, limitPolicy.concurrencyBy) : undefined;
    if (limitPolicy && !(await this.waitForLimits(msg, job, limitPolicy, limitKey, run))) {
      await events.failure({ type: "TaskRevoked", message: "revoked while waiting for a rate or concurrency limit", code: "REVOKED", retryable: false }, TaskState.REVOKED);
      msg.ack();
      run.terminal = true;
      return;
    }

    // The wait for a rate token or a slot can outlast the deadline too.
    if (mayExpire && limitPolicy && (await this.expired(run, msg, job, events))) {
      if (limitKey) await this.limits.release(job.kind, limitKey, job.taskId).catch(() => undefined);
      return;
    }

    const handler = this.o.handlers[job.kind];
    run.limitKey = limitKey;
    this.running.set(job.taskId, run);
    this.announceSoon();
    this.lease(run);
    let softTimer: NodeJS.Timeout | undefined;
    let hardTimer: NodeJS.Timeout | undefined;
    if (hard > 0) {
      hardTimer = setTimeout(() => {
        run.runHardStops();
        run.fail?.(new TimeLimitExceeded(`hard time limit of ${hard} ms exceeded; the work was terminated`, true));
      }, hard);
    }
    if (soft > 0) softTimer = setTimeout(() => run.abort(new TimeLimitExceeded(`soft time limit of ${soft} ms exceeded`, false)), soft);

    try {
      // STARTED is not awaited: the outcome event below is. The batcher holds
      // it until the turn ends and publishes it with the outcome if that came.
      events.started();
      if (this.o.logger.isLevelEnabled("debug")) run.logger.debug("task started"); // the status service logs every transition at info
      if (!handler) throw new NoHandlerError(job.kind);
      // signal and logger are getters, so each is made only if the handler
      // uses it. progress and onHardStop are methods rather than arrows (tsx's
      // keepNames wraps every named arrow in a defineProperty call); they use
      // no `this`, so they still work when destructured.
      const ctx: JobContext = {
        job,
        attempt,
        timeLimits: { softMs: soft, hardMs: hard },
        get signal() {
          return run.signal;
        },
        get logger() {
          return run.logger;
        },
        async progress(p) {
          msg.working();
          // A progress bar never goes back within an attempt: a handler's own
          // step ("loading dataset", 1 %) may be followed by a pipeline that
          // counts from 0 again.
          const percent = Math.max(p.percent ?? 0, run.percent);
          run.percent = percent;
          await events.progress({ message: "", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0, ...p, percent });
        },
        onHardStop(fn) {
          (run.hardStops ??= []).push(fn);
        },
      };
      const work = handler(ctx);
      // Settles as the handler does, unless run.fail (hard time limit, or an
      // abort's grace period ran out) rejects it first: what racing the
      // handler against a per-job "hard stop" promise did.
      const result = await new Promise((resolve, reject) => {
        run.fail = reject;
        Promise.resolve(work).then(resolve, reject);
      });
      if (run.aborted) throw run.reason;
      await events.success(result);
      msg.ack();
      run.terminal = true;
      this.processed += 1;
      if (this.o.logger.isLevelEnabled("debug")) run.logger.debug("task succeeded");
    } catch (raw) {
      const err = run.aborted && !(raw instanceof TimeLimitExceeded && raw.hard) ? run.reason : raw;
      await this.settleFailure(run, retry, err);
    } finally {
      run.settled();
      this.unlease(run);
      if (softTimer) clearTimeout(softTimer);
      if (hardTimer) clearTimeout(hardTimer);
      this.running.delete(job.taskId);
      if (!this.running.size) for (const w of this.noneRunningWaiters.splice(0)) w();
      // A finished task that a heartbeat showed leaves /v1/workers within a second, not at the next regular beat.
      if (this.announced.has(job.taskId)) this.announceSoon();
      if (limitKey) await this.limits.release(job.kind, limitKey, job.taskId).catch(() => undefined);
    }
  }

  /**
   * Leases: each running job's msg.working() is sent every leaseEveryMs, as a
   * setInterval per job did, but by one timer per worker armed for the
   * earliest renewal due, so a job that ends before its first renewal (nearly
   * every prediction) costs no timer of its own.
   */
  private lease(run: Run): void {
    run.renewAt = performance.now() + this.leaseEveryMs;
    this.leased.add(run);
    if (!this.leaseTimer) this.leaseTimer = setTimeout(() => this.renewLeases(), this.leaseEveryMs);
  }

  private unlease(run: Run): void {
    this.leased.delete(run);
    if (this.leased.size === 0 && this.leaseTimer) {
      clearTimeout(this.leaseTimer);
      this.leaseTimer = undefined;
    }
  }

  private renewLeases(): void {
    this.leaseTimer = undefined;
    const now = performance.now();
    let next = Infinity;
    for (const run of this.leased) {
      if (run.renewAt <= now) {
        run.renewAt = now + this.leaseEveryMs;
        run.msg.working();
        if (run.claimed) void this.claims.renew(run.job, run.msg.seq).catch(() => undefined);
        if (run.limitKey) void this.limits.renew(run.job.kind, run.limitKey, run.job.taskId).catch(() => undefined);
      }
      if (run.renewAt < next) next = run.renewAt;
    }
    // A timer may fire a little before performance.now() reaches the due time: then it is simply re-armed.
    if (next !== Infinity) this.leaseTimer = setTimeout(() => this.renewLeases(), Math.max(1, Math.ceil(next - now)));
  }

  /**
   * A job received after its start_by (a backlog, an outage) is not run, like
   * a Celery task past its `expires`: the task ends REVOKED, code EXPIRED, and
   * the job is acked. Whoever asked for the deadline no longer wants the work.
   */
  private async expired(run: Run, msg: JsMsg, job: Job, events: AttemptEvents): Promise<boolean> {
    const late = lateForStart(job, this.clock.now());
    if (late === undefined) return false;
    await events.failure(expiredError(job, late), TaskState.REVOKED);
    msg.ack();
    run.terminal = true;
    run.logger.info({ late_ms: late }, "expired before start; not run");
    return true;
  }

  /** Returns false when the task was revoked while it waited. */
  private async waitForLimits(msg: JsMsg, job: Job, policy: LimitPolicy, key: string | undefined, run: Run): Promise<boolean> {
    this.waitingForLimits += 1;
    // The wait may outlast the claim's staleness (3 × ack wait), so the claim
    // is renewed as the job's lease is, or a copy could take it over and run too.
    let renewedAt = performance.now();
    const keepHolding = () => {
      msg.working();
      if (run.claimed && performance.now() - renewedAt >= this.leaseEveryMs) {
        renewedAt = performance.now();
        void this.claims.renew(job, msg.seq).catch(() => undefined);
      }
    };
    try {
      let logged = false;
      for (;;) {
        if (this.revocations.has(job.taskId)) return false;
        const wait = await this.limits.takeToken(job.kind, policy);
        if (wait === 0) break;
        if (!logged) run.logger.info({ wait_ms: wait }, "waiting for the rate limit");
        logged = true;
        keepHolding();
        await new Promise((r) => setTimeout(r, Math.min(wait, 250)));
      }
      if (!key || !policy.concurrencyPerKey) return true;
      logged = false;
      while (!(await this.limits.acquire(job.kind, key, job.taskId, policy.concurrencyPerKey))) {
        if (this.revocations.has(job.taskId)) return false;
        if (!logged) run.logger.info({ key }, "waiting for a concurrency slot");
        logged = true;
        keepHolding();
        await new Promise((r) => setTimeout(r, 100));
      }
      return true;
    } finally {
      this.waitingForLimits -= 1;
    }
  }

  private async settleFailure(run: Run, retry: RetryPolicy, err: unknown): Promise<void> {
    const { msg, job, events, attempt } = run;
    const log = run.logger;
    if (err instanceof WorkerShutdownError) {
      // Hand the job back at once; another worker takes it.
      msg.nak();
      log.info("handed back on shutdown");
      return;
    }
    if (err instanceof TaskRevokedError) {
      await events.failure({ type: "TaskRevoked", message: err.message, code: "REVOKED", retryable: false }, TaskState.REVOKED);
      msg.ack();
      run.terminal = true;
      log.info("task revoked while running");
      return;
    }
    const error: TaskError = {
      type: err instanceof TimeLimitExceeded ? "TimeLimitExceeded" : errorType(err),
      message: errorMessage(err),
      code: errorCode(err),
      retryable: isRetryable(err),
    };
    const localAttempt = attempt - job.attemptBase;
    if (error.retryable && localAttempt < retry.maxAttempts) {
      const delay = retryDelayMs(retry, localAttempt, this.o.random);
      await events.retry(error, this.clock.now() + delay);
      msg.nak(delay);
      log.warn({ err: error.message, delay_ms: delay }, "task will retry");
      return;
    }
    if (error.retryable) {
      // Attempts exhausted: keep the raw job for inspection and replay.
      await publishDeadLetter(this.js, this.o.topo, job, msg.data, error.message).catch((e) => log.error({ err: errorMessage(e) }, "dead letter publish failed"));
    }
    await events.failure(error);
    msg.ack();
    run.terminal = true;
    this.failed += 1;
    log.warn({ err: error.message, type: error.type }, "task failed");
  }

  private cancelRunning(taskId: string, reason: string): void {
    const r = this.running.get(taskId);
    if (!r || r.aborted) return;
    this.o.logger.info({ task_id: taskId }, "cancelling running task");
    r.abort(new TaskRevokedError(reason || "cancelled by request"));
  }

  /**
   * A job still running a second after it started is in a heartbeat then, not
   * up to heartbeatEveryMs (5 s) later: /v1/workers and /v1/tasks/active show
   * it, and the reconciler sees a live worker holding it. At most one extra
   * heartbeat a second, and none when nothing is running by then (a fast job).
   * The same heartbeat takes out a task the last one showed that has finished.
   */
  private announceSoon(): void {
    if (this.heartbeatSoonTimer || this.stopping) return;
    this.heartbeatSoonTimer = setTimeout(() => {
      this.heartbeatSoonTimer = undefined;
      if (this.running.size > 0 || this.announced.size > 0) void this.heartbeat();
    }, 1_000);
    this.heartbeatSoonTimer.unref();
  }

  private async heartbeat(): Promise<void> {
    const mem = process.memoryUsage();
    const inFlight = this.inFlight;
    this.announced = new Set(inFlight.map((t) => t.taskId));
    const hb = WorkerHeartbeat.encode({
      workerId: this.workerId,
      host: hostname(),
      service: this.o.service,
      queues: this.o.queues,
      kinds: this.kinds,
      backend: this.o.backend ?? "",
      inFlightTasks: inFlight,
      processed: this.processed,
      failed: this.failed,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      startedAtMs: this.startedAt,
      atMs: Date.now(),
      pid: process.pid,
    }).finish();
    await this.workers?.put(this.heartbeatKey, hb).catch(() => undefined);
  }

  /**
   * Stops taking jobs, lets running ones finish for up to `graceMs`, then
   * hands the rest back (nak) so another worker picks them up at once.
   */
  async drain(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const s of this.streams) s.stop();
    for (const w of this.slotWaiters.splice(0)) w();
    for (const d of this.doorbells) d.unsubscribe();
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([this.noneRunning(), new Promise<void>((r) => (graceTimer = setTimeout(r, graceMs)))]);
    clearTimeout(graceTimer);
    for (const r of this.running.values()) r.abort(new WorkerShutdownError());
    await this.noneRunning();
    // Outstanding fetches end within their 1 s expiry.
    let fetchTimer: NodeJS.Timeout | undefined;
    if (this.free < this.o.concurrency) await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), new Promise<void>((r) => (fetchTimer = setTimeout(r, 1_500)))]);
    clearTimeout(fetchTimer);
    this.cancelSub?.unsubscribe();
    this.revocations?.stop();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.heartbeatSoonTimer) clearTimeout(this.heartbeatSoonTimer);
    await this.workers?.delete(this.heartbeatKey).catch(() => undefined);
  }
}
