// Scheduler service: cron and interval schedules that fire exactly once however
// many replicas run. One replica leads (a lease in JetStream KV) and fires;
// every replica serves the SchedulerService gRPC API. This file only wires.
import { hostname } from "node:os";
import { SchedulerServiceService, StatusServiceClient } from "@millrace/contracts";
import {
  infrastructureChecks,
  listSetting,
  grpcClientOptions,
  requireServiceToken,
  Topology,
  baseConfigSchema,
  healthConfigShape,
  connectNats,
  natsOptionsFrom,
  connectPostgres,
  createLogger,
  ensureTopology,
  grpc,
  loadConfig,
  migrate,
  isEntryFile,
  runService,
  startGrpcServer,
  startHealthServer,
  stopGrpcServer,
  systemClock,
  z,
  type Clock,
  type Logger,
} from "@millrace/runtime";
import { seedDefaults } from "./defaults";
import { Firing } from "./firing";
import { createSchedulerService } from "./grpc-service";
import { LeaderLoop } from "./leader";
import { LeaderLease } from "./lease";
import { RunWatch } from "./run-watch";
import { ScheduleStore } from "./store";

export const LEASE_KEY = "scheduler";

export const configSchema = baseConfigSchema
  .extend({
    // SCHEDULER_GRPC_ADDR (from the base schema) is where this service listens.
    ...healthConfigShape(8083),
    LEASE_TTL_MS: z.coerce.number().int().min(300).default(10_000),
    TICK_MS: z.coerce.number().int().min(10).default(1_000),
    SCHEDULER_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
    // Tenants seeded with the default schedules (comma-separated); the first also
    // serves requests that name no tenant.
    SCHEDULES_TENANT: listSetting("system").refine((ts) => ts.length > 0, "name at least one tenant"),
    // A fire later than this (leader hand-over, restart) is "missed" and follows the schedule's catch-up policy.
    MISFIRE_GRACE_MS: z.coerce.number().int().min(0).default(60_000),
    RUN_POLL_MS: z.coerce.number().int().min(50).default(5_000),
    SEED_DEFAULT_SCHEDULES: z.enum(["true", "false"]).default("true"),
    // Each schedule is a standing load on the leader and the queues: a tenant's creates past this are refused (409 QUOTA_EXCEEDED).
    SCHEDULES_MAX_PER_TENANT: z.coerce.number().int().min(1).default(200),
  })
  .superRefine((c, ctx) => {
    // The leader renews every TTL/3 from its tick; slower ticks would let the lease lapse.
    if (c.TICK_MS > c.LEASE_TTL_MS / 3) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["TICK_MS"], message: "must be at most LEASE_TTL_MS / 3" });
  });

export type SchedulerConfig = z.infer<typeof configSchema>;

export interface SchedulerHandle {
  grpcPort: number;
  healthPort: number;
  isLeader(): boolean;
  /** Runs one leader-loop pass now (tests drive time with a ManualClock and call this). */
  tick(): Promise<void>;
  close(): Promise<void>;
}

export async function startScheduler(config: SchedulerConfig, deps: { clock?: Clock; logger?: Logger } = {}): Promise<SchedulerHandle> {
  const clock = deps.clock ?? systemClock;
  const logger = (deps.logger ?? createLogger("scheduler", config.LOG_LEVEL)).child({ scheduler_id: config.SCHEDULER_ID });
  const topo = new Topology(config.MILLRACE_NAMESPACE);

  const nc = await connectNats(natsOptionsFrom(config, `scheduler-${config.SCHEDULER_ID}`, logger));
  const pool = await connectPostgres({ url: config.DATABASE_URL, createDatabase: true, max: 5, logger });
  try {
    await migrate(pool, logger);
    await ensureTopology(nc, topo);
  } catch (err) {
    await nc.close();
    await pool.end();
    throw err;
  }
  const js = nc.jetstream();
  const kv = await js.views.kv(topo.bucket("leases"));
  const status = new StatusServiceClient(config.STATUS_GRPC_ADDR, grpc.credentials.createInsecure(), grpcClientOptions(config.GRPC_SERVICE_TOKEN));
  const store = new ScheduleStore(pool);

  if (config.SEED_DEFAULT_SCHEDULES === "true") {
    for (const tenant of config.SCHEDULES_TENANT) {
      const seeded = await seedDefaults(store, tenant, clock.now());
      if (seeded.length) logger.info({ tenant, schedules: seeded }, "seeded default schedules");
    }
  }

  const firing = new Firing({ store, js, topo, status, clock, logger, misfireGraceMs: config.MISFIRE_GRACE_MS });
  const lease = new LeaderLease(kv, LEASE_KEY, config.SCHEDULER_ID, config.LEASE_TTL_MS, clock, logger);
  const loop = new LeaderLoop({ lease, firing, runs: new RunWatch(store, status, clock, logger), clock, logger, tickMs: config.TICK_MS, runPollMs: config.RUN_POLL_MS });

  const server = new grpc.Server();
  server.addService(
    SchedulerServiceService,
    requireServiceToken(SchedulerServiceService, createSchedulerService({ store, firing, clock, logger, defaultTenant: config.SCHEDULES_TENANT[0], isLeader: () => loop.isLeader, maxPerTenant: config.SCHEDULES_MAX_PER_TENANT }), config.GRPC_SERVICE_TOKEN),
  );
  const grpcPort = await startGrpcServer(server, config.SCHEDULER_GRPC_ADDR);
  const health = await startHealthServer(config.HEALTH_PORT, infrastructureChecks(nc, pool), config.HEALTH_HOST);
  await loop.start();
  logger.info({ grpc_port: grpcPort, health_port: health.port, lease_ttl_ms: config.LEASE_TTL_MS }, "scheduler started");

  let closing: Promise<void> | undefined;
  return {
    grpcPort,
    healthPort: health.port,
    isLeader: () => loop.isLeader,
    tick: () => loop.tick(),
    close: () =>
      (closing ??= (async () => {
        // Release the lease first so another replica takes over without waiting out the TTL.
        await loop.stop();
        await stopGrpcServer(server, 2_000);
        await new Promise<void>((resolve) => health.server.close(() => resolve()));
        status.close();
        await nc.drain().catch(() => undefined);
        await pool.end();
      })()),
  };
}

if (isEntryFile(import.meta.url)) runService("scheduler", () => loadConfig(configSchema, process.env), (config, logger) => startScheduler(config, { logger }));
