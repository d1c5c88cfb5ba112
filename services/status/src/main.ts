import { StatusServiceService } from "@millrace/contracts";
import {
  infrastructureChecks,
  baseConfigSchema,
  healthConfigShape,
  connectInfrastructure,
  isEntryFile,
  runService,
  createLogger,
  grpc,
  loadConfig,
  startGrpcServer,
  startHealthServer,
  stopGrpcServer,
  systemClock,
  z,
  GRPC_CHANNEL_OPTIONS,
  requireServiceToken,
  type Clock,
  type Logger,
} from "@millrace/runtime";
import { Canceller } from "./cancel";
import { ChangeFeed } from "./change-feed";
import { Submissions } from "@millrace/submissions";
import { DeadLetterWatcher } from "./dead-letter";
import { Orchestrator } from "./orchestrator";
import { Projector } from "./projector";
import { Reconciler } from "./reconciler";
import { statusService } from "./service";
import { TaskStore } from "./store";

export const configSchema = baseConfigSchema.extend({
  STATUS_LISTEN: z.string().default("127.0.0.1:50051"),
  ...healthConfigShape(8081),
  RESULT_TTL_MS: z.coerce.number().int().positive().default(24 * 3_600_000),
  IDEMPOTENCY_TTL_MS: z.coerce.number().int().positive().default(24 * 3_600_000),
  RECONCILE_AFTER_MS: z.coerce.number().int().positive().default(30_000),
  // Past the job ack timeout (JetStream redelivers before this) and the heartbeat TTL.
  RECONCILE_LOST_AFTER_MS: z.coerce.number().int().positive().default(5 * 60_000),
  RECONCILE_EVERY_MS: z.coerce.number().int().positive().default(5_000),
  PURGE_EVERY_MS: z.coerce.number().int().positive().default(60_000),
  PROJECTION_BATCH_MAX: z.coerce.number().int().positive().default(500),
  JOB_ACK_WAIT_MS: z.coerce.number().int().positive().default(30_000),
  ORCHESTRATOR_SWEEP_MS: z.coerce.number().int().positive().default(5_000),
});
export type StatusConfig = z.infer<typeof configSchema>;

export interface StatusService {
  grpcPort: number;
  healthPort: number;
  projector: Projector;
  reconciler: Reconciler;
  close(): Promise<void>;
}

/** Wires the status service; tests call this in-process. */
export async function startStatus(config: StatusConfig, deps: { clock?: Clock; logger?: Logger } = {}): Promise<StatusService> {
  const logger = deps.logger ?? createLogger("status", config.LOG_LEVEL);
  const clock = deps.clock ?? systemClock;
  const { topo, nc, pool } = await connectInfrastructure(config, "status", logger, { poolMax: 12, ackWaitMs: config.JOB_ACK_WAIT_MS });
  const js = nc.jetstream();
  const revocations = await js.views.kv(topo.bucket("revocations"));
  const projection = { resultTtlMs: config.RESULT_TTL_MS };
  const store = new TaskStore(pool, clock);
  // Every replica's change notices: they wake this process's WatchTask
  // streams, and a task coming back to life (a retry made by any replica)
  // drops its cached finished row.
  const feed = new ChangeFeed((taskId, state) => store.changed(taskId, state));
  feed.start(nc, topo, logger);
  const submissions = new Submissions(pool, { clock, idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS });
  const canceller = new Canceller(nc, pool, store, revocations, topo, clock, projection, logger);
  const orchestrator = new Orchestrator(nc, pool, store, canceller, topo, clock, logger, { sweepEveryMs: config.ORCHESTRATOR_SWEEP_MS });
  const projector = new Projector(nc, pool, store, topo, { ...projection, batchMax: config.PROJECTION_BATCH_MAX }, logger, (rows) => orchestrator.onCommitted(rows));
  await projector.start();
  await orchestrator.start();
  const reconciler = new Reconciler(js, await nc.jetstreamManager(), await js.views.kv(topo.bucket("workers")), store, topo, clock, logger, {
    afterMs: config.RECONCILE_AFTER_MS,
    lostAfterMs: config.RECONCILE_LOST_AFTER_MS,
    everyMs: config.RECONCILE_EVERY_MS,
    purgeEveryMs: config.PURGE_EVERY_MS,
    catchUpWaitMs: Math.min(config.RECONCILE_EVERY_MS, 10_000),
  });
  reconciler.start();
  const deadLetters = new DeadLetterWatcher(nc, topo, clock, logger);
  deadLetters.start();

  const server = new grpc.Server(GRPC_CHANNEL_OPTIONS);
  server.addService(StatusServiceService, requireServiceToken(StatusServiceService, statusService({ nc, js, pool, topo, store, feed, submissions, canceller, clock, logger, projection }), config.GRPC_SERVICE_TOKEN));
  const grpcPort = await startGrpcServer(server, config.STATUS_LISTEN);
  const health = await startHealthServer(config.HEALTH_PORT, infrastructureChecks(nc, pool), config.HEALTH_HOST);
  logger.info({ grpc_port: grpcPort, health_port: health.port, namespace: topo.ns || "(default)" }, "status service ready");

  return {
    grpcPort,
    healthPort: health.port,
    projector,
    reconciler,
    async close() {
      reconciler.stop();
      deadLetters.stop();
      orchestrator.stop();
      feed.stop();
      await stopGrpcServer(server, 2_000);
      await projector.stop();
      health.server.close();
      await nc.drain().catch(() => undefined);
      await pool.end();
    },
  };
}

if (isEntryFile(import.meta.url)) runService("status", () => loadConfig(configSchema, process.env), (config, logger) => startStatus(config, { logger }));
