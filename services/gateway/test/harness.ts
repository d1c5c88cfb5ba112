// Test harness for the gateway: real NATS and Postgres from @millrace/testkit,
// and in-test gRPC servers standing in for the status, predictor/registry and
// scheduler services (our boundaries), backed by in-memory maps so tests can
// assert exactly what the gateway sent and drive task state by hand.
import { EventEmitter } from "node:events";
import { SignJWT } from "jose";
import type { Hono } from "hono";
import {
  PredictorServiceClient,
  PredictorServiceService,
  RegistryServiceClient,
  RegistryServiceService,
  SchedulerServiceClient,
  SchedulerServiceService,
  StatusServiceClient,
  StatusServiceService,
  TaskState,
  type CreateTaskRequest,
  type CreateTaskResponse,
  Job,
  type InputWarning,
  type ModelInfo,
  type PredictRequest,
  type Schedule,
  type Task,
  type PredictorServiceServer,
  type RegistryServiceServer,
  type SchedulerServiceServer,
  type StatusServiceServer,
  type WatchTaskRequest,
} from "@millrace/contracts";
import {
  GRPC_CHANNEL_OPTIONS,
  ConflictError,
  GoneError,
  NotFoundError,
  QuotaExceededError,
  ValidationError,
  createLogger,
  grpc,
  isTerminal,
  startGrpcServer,
  stopGrpcServer,
  toServiceError,
  unary,
  type Logger,
} from "@millrace/runtime";
import { dbFixture, natsFixture, type DbFixture, type NatsFixture } from "@millrace/testkit";
import { buildApp, createAuthenticator, gatewayConfigSchema, type GatewayConfig, type GatewayDeps, type GatewayEnv, type TaskRecorder } from "../src/main";

export const SECRET = "test-secret-for-the-gateway-0123456789";

export async function token(tenant: string, opts: { expiresIn?: string | number; secret?: string; claim?: "tenant" | "sub" } = {}): Promise<string> {
  const claims = opts.claim === "sub" ? {} : { tenant };
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(opts.claim === "sub" ? tenant : `user-of-${tenant}`).setIssuedAt();
  jwt.setExpirationTime(opts.expiresIn ?? "1h");
  return jwt.sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

// ------------------------------------------------------------ status service

function emptyTask(job: Job): Task {
  return {
    taskId: job.taskId,
    tenant: job.tenant,
    kind: job.kind,
    queue: job.queue,
    state: TaskState.PENDING,
    progress: undefined,
    resultJson: Buffer.alloc(0),
    error: undefined,
    attempts: 0,
    createdAtMs: job.createdAtMs,
    startedAtMs: 0,
    finishedAtMs: 0,
    nextAttemptAtMs: 0,
    parentId: job.parentId,
    history: [],
    children: [],
    expired: false,
    expiresAtMs: 0,
    cancelRequested: false,
    generation: 0,
    seq: 0,
    omittedResultBytes: 0,
    name: job.name,
    startByMs: job.startByMs,
  };
}

/** The status service as a map. Tests move tasks with update(); watchers see each change. */
export class FakeStatus {
  readonly tasks = new Map<string, Task>();
  readonly created: CreateTaskRequest[] = [];
  /** Every WatchTask request, to check what the gateway asked for. */
  readonly watches: WatchTaskRequest[] = [];
  /** The reason of every CancelTask call, in order. */
  readonly cancelReasons: string[] = [];
  readonly idempotency = new Map<string, { hash: string; taskId: string }>();
  readonly changes = new EventEmitter();
  /** Called after each CreateTask (e.g. to finish the task for sync routes). */
  onCreate?: (task: Task) => void;
  watchers = 0;

  constructor() {
    this.changes.setMaxListeners(1000);
  }

  update(taskId: string, patch: Partial<Task> & { result?: unknown }): Task {
    const t = this.tasks.get(taskId);
    if (!t) throw new Error(`no task ${taskId}`);
    const { result, ...rest } = patch;
    const next: Task = { ...t, ...rest };
    if (result !== undefined) next.resultJson = Buffer.from(JSON.stringify(result));
    this.tasks.set(taskId, next);
    this.changes.emit(taskId, next);
    return next;
  }

  private find(tenant: string, taskId: string): Task {
    const t = this.tasks.get(taskId);
    if (!t || t.tenant !== tenant) throw new NotFoundError(`no task ${taskId}`, { field: "task_id" });
    if (t.expired) throw new GoneError(`task ${taskId} expired`, { field: "task_id" });
    return t;
  }

  private async create(req: CreateTaskRequest): Promise<CreateTaskResponse> {
    this.created.push(req);
    const job = req.job!;
    if (req.idempotencyKey) {
      const k = `${job.tenant}\u0000${req.idempotencyKey}`;
      const prior = this.idempotency.get(k);
      if (prior) {
        if (prior.hash !== req.requestHash) return { task: undefined, existing: false, conflict: true };
        return { task: this.tasks.get(prior.taskId), existing: true, conflict: false };
      }
      this.idempotency.set(k, { hash: req.requestHash, taskId: job.taskId });
    }
    const task = emptyTask(job);
    this.tasks.set(task.taskId, task);
    if (this.onCreate) setImmediate(() => this.onCreate?.(task));
    return { task, existing: false, conflict: false };
  }

  /**
   * The gateway's task recorder, writing into this map as the real one writes
   * the PENDING row in Postgres (@millrace/submissions, tested against a real
   * database in its own package): tests see what was created, and GETs of it
   * through this fake find it.
   */
  recorder(): TaskRecorder {
    return {
      record: async (job, idem) => {
        const r = await this.create({ job, idempotencyKey: idem?.key ?? "", requestHash: idem?.requestHash ?? "" });
        return { taskId: r.task?.taskId ?? job.taskId, existing: r.existing || r.conflict, conflict: r.conflict };
      },
    };
  }

  implementation(): Partial<StatusServiceServer> {
    return {
      createTask: unary(async (req) => this.create(req)),
      getTask: unary(async (req) => this.find(req.tenant, req.taskId)),
      // The batched form, as the status service answers it: one outcome per item.
      getTasks: unary(async (req) => ({
        results: req.requests.map((r) => {
          try {
            return { task: this.find(r.tenant, r.taskId), error: undefined };
          } catch (err) {
            return { task: undefined, error: { code: (err as { code?: string }).code ?? "INTERNAL", message: (err as Error).message, field: (err as { field?: string }).field ?? "" } };
          }
        }),
      })),
      // As the status service counts: created since (recent), and not yet finished (unfinished).
      countTasks: unary(async (req) => {
        const mine = [...this.tasks.values()].filter((t) => t.tenant === req.tenant);
        const group = (ts: Task[]) => {
          const m = new Map<string, { queue: string; kind: string; state: TaskState; count: number }>();
          for (const t of ts) {
            const k = `${t.queue}/${t.kind}/${t.state}`;
            m.set(k, { queue: t.queue, kind: t.kind, state: t.state, count: (m.get(k)?.count ?? 0) + 1 });
          }
          return [...m.values()];
        };
        return { recent: group(mine.filter((t) => t.createdAtMs >= Number(req.sinceMs))), unfinished: group(mine.filter((t) => !isTerminal(t.state))) };
      }),
      listTasks: unary(async (req) => {
        let all = [...this.tasks.values()].filter((t) => t.tenant === req.tenant);
        if (req.state) all = all.filter((t) => t.state === req.state);
        if (req.kind) all = all.filter((t) => t.kind === req.kind);
        // As the status service: running now.
        if (req.activeOnly) all = all.filter((t) => t.state === TaskState.STARTED || t.state === TaskState.PROGRESS);
        all.sort((a, b) => b.createdAtMs - a.createdAtMs || a.taskId.localeCompare(b.taskId));
        const offset = Number(req.cursor || 0);
        const limit = req.limit || 50;
        const page = all.slice(offset, offset + limit);
        return { tasks: page, nextCursor: offset + limit < all.length ? String(offset + limit) : "" };
      }),
      watchTask: (call: grpc.ServerWritableStream<WatchTaskRequest, Task>) => {
        this.watches.push(call.request);
        let current: Task;
        try {
          current = this.find(call.request.tenant, call.request.taskId);
        } catch (err) {
          call.emit("error", toServiceError(err));
          return;
        }
        this.watchers++;
        const id = current.taskId;
        const onChange = (t: Task) => {
          call.write(t);
          if (isTerminal(t.state)) finish();
        };
        const finish = () => {
          this.changes.off(id, onChange);
          this.watchers--;
          call.end();
        };
        call.write(current);
        if (isTerminal(current.state)) {
          this.watchers--;
          call.end();
          return;
        }
        this.changes.on(id, onChange);
        call.on("cancelled", () => {
          if (this.changes.listeners(id).includes(onChange)) {
            this.changes.off(id, onChange);
            this.watchers--;
          }
        });
      },
      cancelTask: unary(async (req) => {
        this.cancelReasons.push(req.reason);
        const t = this.find(req.tenant, req.taskId);
        if (isTerminal(t.state)) return { task: t, alreadyFinished: true };
        return { task: this.update(t.taskId, { state: TaskState.REVOKED, cancelRequested: true, finishedAtMs: Date.now() }), alreadyFinished: false };
      }),
      retryTask: unary(async (req) => {
        const t = this.find(req.tenant, req.taskId);
        if (t.state !== TaskState.FAILURE && t.state !== TaskState.REVOKED) return { task: t, notRetryable: true };
        return { task: this.update(t.taskId, { state: TaskState.PENDING, error: undefined, finishedAtMs: 0 }), notRetryable: false };
      }),
      ping: unary(async () => ({ service: "fake-status" })),
    };
  }
}

// --------------------------------------------------- predictor and registry

/** The fake model reads only `x`: any other column comes back as the predictor's COLUMN_UNKNOWN warning. */
function unknownColumns(rows: Record<string, unknown>[]): InputWarning[] {
  const extra = [...new Set(rows.flatMap((r) => Object.keys(r)).filter((k) => k !== "x"))];
  return extra.map((column) => ({ code: "COLUMN_UNKNOWN", column, message: `column '${column}' is not an input of the model and was ignored` }));
}

export class FakePredictor {
  readonly requests: PredictRequest[] = [];
  readonly models = new Map<string, ModelInfo>();
  /** ResolveModel answers NOT_FOUND for a model not in `models`; off, it finds any name (most tests submit jobs for "m" without one). */
  strictModels = false;
  readonly resolves: string[] = [];

  predictor(): Partial<PredictorServiceServer> {
    return {
      predict: unary(async (req) => {
        this.requests.push(req);
        const name = req.model.split("@")[0];
        const model = this.models.get(`${req.tenant}/${name}`);
        if (!model) throw new NotFoundError(`no model '${req.model}'`, { field: "model" });
        const rows = JSON.parse(Buffer.from(req.instancesJson).toString()) as Record<string, unknown>[];
        if (rows.some((r) => !("x" in r))) throw new ValidationError("instances[0].x: missing column", { field: "instances[0].x" });
        return {
          model: { name, version: model.latestVersion },
          predictionsJson: Buffer.from(JSON.stringify(rows.map((r) => Number(r.x) * 2))),
          probabilitiesJson: Buffer.alloc(0),
          backend: "cpu",
          warnings: unknownColumns(rows),
        };
      }),
      explain: unary(async (req) => {
        const name = req.model.split("@")[0];
        if (!this.models.get(`${req.tenant}/${name}`)) throw new NotFoundError(`no model '${req.model}'`, { field: "model" });
        const rows = JSON.parse(Buffer.from(req.instancesJson).toString()) as Record<string, unknown>[];
        return { model: { name, version: 1 }, explanationsJson: Buffer.from('[{"base_value":0,"contributions":{"x":2},"prediction":2}]'), method: "linear", warnings: unknownColumns(rows) };
      }),
      ping: unary(async () => ({ backend: "cpu" })),
    };
  }

  registry(): Partial<RegistryServiceServer> {
    const find = (tenant: string, name: string) => {
      const m = this.models.get(`${tenant}/${name}`);
      if (!m) throw new NotFoundError(`no model '${name}'`, { field: "name" });
      return m;
    };
    return {
      listModels: unary(async (req) => ({ models: [...this.models.entries()].filter(([k]) => k.startsWith(`${req.tenant}/`)).map(([, m]) => m) })),
      getModel: unary(async (req) => find(req.tenant, req.name)),
      getModelVersion: unary(async (req) => {
        const v = find(req.tenant, req.name).versions.find((x) => x.version === req.version);
        if (!v) throw new NotFoundError(`no version ${req.version}`, { field: "version" });
        return v;
      }),
      resolveModel: unary(async (req) => {
        this.resolves.push(`${req.tenant}/${req.model}`);
        const name = req.model.split("@")[0];
        if (!this.strictModels) return { name, version: 1 };
        return { name, version: find(req.tenant, name).latestVersion };
      }),
      setAlias: unary(async (req) => {
        const m = find(req.tenant, req.name);
        if (!m.versions.some((v) => v.version === req.version)) throw new NotFoundError(`no version ${req.version}`, { field: "version" });
        m.aliases[req.alias] = req.version;
        return m;
      }),
    };
  }
}

// ---------------------------------------------------------------- scheduler

export class FakeScheduler {
  readonly schedules = new Map<string, Schedule>();
  readonly upserts: { schedule: Schedule; patch: boolean; fields: string[] }[] = [];
  /** The scheduler's per-tenant quota, when a test sets one. */
  maxPerTenant?: number;

  implementation(): Partial<SchedulerServiceServer> {
    const key = (tenant: string, name: string) => `${tenant}/${name}`;
    const find = (tenant: string, name: string) => {
      const s = this.schedules.get(key(tenant, name));
      if (!s) throw new NotFoundError(`no schedule '${name}'`, { field: "name" });
      return s;
    };
    return {
      listSchedules: unary(async (req) => ({ schedules: [...this.schedules.values()].filter((s) => s.tenant === req.tenant) })),
      getSchedule: unary(async (req) => find(req.tenant, req.name)),
      upsertSchedule: unary(async (req) => {
        const s = req.schedule!;
        this.upserts.push({ schedule: s, patch: req.patch, fields: req.fields });
        const k = key(s.tenant, s.name);
        const prior = this.schedules.get(k);
        if (req.createOnly && prior) throw new ConflictError(`schedule '${s.name}' exists`, { field: "name" });
        let next: Schedule;
        if (req.patch) {
          if (!prior) throw new NotFoundError(`no schedule '${s.name}'`, { field: "name" });
          const camel: Record<string, keyof Schedule> = { interval_seconds: "intervalSeconds", catch_up: "catchUp" };
          // As the scheduler: a listed job option is set over the stored ones.
          const option: Record<string, "retry" | "timeLimits" | "startWithinMs"> = { retry: "retry", time_limits: "timeLimits", start_within_ms: "startWithinMs" };
          next = { ...prior, jobOptions: { retry: undefined, timeLimits: undefined, startWithinMs: 0, ...prior.jobOptions } };
          for (const f of req.fields) {
            if (option[f]) (next.jobOptions as unknown as Record<string, unknown>)[option[f]] = s.jobOptions?.[option[f]];
            else (next as unknown as Record<string, unknown>)[camel[f] ?? f] = s[camel[f] ?? (f as keyof Schedule)];
          }
        } else {
          const held = [...this.schedules.values()].filter((x) => x.tenant === s.tenant).length;
          if (!prior && this.maxPerTenant !== undefined && held >= this.maxPerTenant) {
            throw new QuotaExceededError(`tenant has ${held} schedules, the most allowed is ${this.maxPerTenant}`, { field: "name", details: { limit: this.maxPerTenant } });
          }
          next = { ...s, createdAtMs: Date.now(), nextFireAtMs: Date.now() + 60_000 };
        }
        next.updatedAtMs = Date.now();
        this.schedules.set(k, next);
        return next;
      }),
      deleteSchedule: unary(async (req) => ({ deleted: this.schedules.delete(key(req.tenant, req.name)) })),
      triggerSchedule: unary(async (req) => {
        const s = find(req.tenant, req.name);
        return { schedule: s.name, scheduledForMs: Date.now(), firedAtMs: Date.now(), taskId: "task-from-schedule", state: "PENDING", durationMs: 0, resultSummary: undefined, error: "" };
      }),
      listRuns: unary(async (req) => {
        find(req.tenant, req.name);
        return { runs: [] };
      }),
      ping: unary(async () => ({ leader: true })),
    };
  }
}

// ------------------------------------------------------------------ harness

export interface Harness {
  nats: NatsFixture;
  db: DbFixture;
  status: FakeStatus;
  predictor: FakePredictor;
  scheduler: FakeScheduler;
  grpcAddr: string;
  config: GatewayConfig;
  deps: GatewayDeps;
  app: Hono<GatewayEnv>;
  logger: Logger;
  shutdown: AbortController;
  /** Messages now in this namespace's JOBS stream. */
  /** Jobs in the stream, counting every publish the gateway made before the call. */
  jobCount(): Promise<number>;
  /** The last job published on a kind's queue, once every earlier publish is stored. */
  lastJob(kind: string, queue?: string): Promise<Job>;
  cleanup(): Promise<void>;
}

export function testConfig(nats: NatsFixture, db: DbFixture, grpcAddr: string, extra: Record<string, string> = {}): GatewayConfig {
  return gatewayConfigSchema.parse({
    NATS_URL: nats.natsUrl,
    DATABASE_URL: db.url,
    MILLRACE_NAMESPACE: nats.ns,
    STATUS_GRPC_ADDR: grpcAddr,
    PREDICTOR_GRPC_ADDR: grpcAddr,
    SCHEDULER_GRPC_ADDR: grpcAddr,
    JWT_SECRET: SECRET,
    LOG_LEVEL: "silent",
    PORT: "0",
    HOST: "127.0.0.1",
    ...extra,
  });
}

export async function startFakes(): Promise<{ server: grpc.Server; addr: string; status: FakeStatus; predictor: FakePredictor; scheduler: FakeScheduler }> {
  const status = new FakeStatus();
  const predictor = new FakePredictor();
  const scheduler = new FakeScheduler();
  const server = new grpc.Server();
  server.addService(StatusServiceService, status.implementation() as grpc.UntypedServiceImplementation);
  server.addService(PredictorServiceService, predictor.predictor() as grpc.UntypedServiceImplementation);
  server.addService(RegistryServiceService, predictor.registry() as grpc.UntypedServiceImplementation);
  server.addService(SchedulerServiceService, scheduler.implementation() as grpc.UntypedServiceImplementation);
  const port = await startGrpcServer(server, "127.0.0.1:0");
  return { server, addr: `127.0.0.1:${port}`, status, predictor, scheduler };
}

export async function createHarness(opts: { config?: Record<string, string>; statusAddr?: string } = {}): Promise<Harness> {
  const [nats, db, fakes] = await Promise.all([natsFixture(), dbFixture(), startFakes()]);
  const config = testConfig(nats, db, fakes.addr, opts.config);
  const creds = grpc.credentials.createInsecure();
  const logger = createLogger("gateway-test", "silent");
  const shutdown = new AbortController();
  const deps: GatewayDeps = {
    config,
    logger,
    nc: nats.nc,
    js: nats.nc.jetstream(),
    topo: nats.topo,
    pool: db.pool,
    submissions: fakes.status.recorder(),
    status: new StatusServiceClient(opts.statusAddr ?? fakes.addr, creds, GRPC_CHANNEL_OPTIONS),
    predictor: new PredictorServiceClient(fakes.addr, creds, GRPC_CHANNEL_OPTIONS),
    registry: new RegistryServiceClient(fakes.addr, creds, GRPC_CHANNEL_OPTIONS),
    scheduler: new SchedulerServiceClient(fakes.addr, creds, GRPC_CHANNEL_OPTIONS),
    auth: createAuthenticator({ secret: SECRET, clock: { now: () => Date.now() }, cacheSize: 100 }),
    clock: { now: () => Date.now() },
    shutdown: shutdown.signal,
  };
  const app = buildApp(deps);
  const jsm = await nats.nc.jetstreamManager();
  let sentinels = 0;
  // The gateway publishes jobs without waiting for JetStream's ack, so a read
  // right after a response could miss one still on its way. A sentinel
  // published (acked) on the same connection is stored after every earlier
  // publish of that connection: once it is acked, the stream is settled.
  // Sentinels are on a subject no consumer reads, and are not counted.
  const settle = () => deps.js.publish(`${nats.topo.jobsWildcard.slice(0, -1)}_sentinel.${++sentinels}`, new Uint8Array());
  return {
    nats,
    db,
    status: fakes.status,
    predictor: fakes.predictor,
    scheduler: fakes.scheduler,
    grpcAddr: fakes.addr,
    config,
    deps,
    app,
    logger,
    shutdown,
    async jobCount() {
      await settle();
      return (await jsm.streams.info(nats.topo.jobsStream)).state.messages - sentinels;
    },
    async lastJob(kind: string, queue = "default") {
      await settle();
      const msg = await jsm.streams.getMessage(nats.topo.jobsStream, { last_by_subj: nats.topo.jobSubject(kind, queue) });
      return Job.decode(msg.data);
    },
    async cleanup() {
      shutdown.abort();
      deps.status.close();
      deps.predictor.close();
      deps.registry.close();
      deps.scheduler.close();
      await stopGrpcServer(fakes.server, 1_000);
      await nats.cleanup();
      await db.cleanup();
    },
  };
}

/** app.request with a bearer token and a JSON body. */
export function requester(app: Hono<GatewayEnv>, bearer: string) {
  return (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
}
