import { DatasetStore, Registry } from "@millrace/artifacts";
import { StatusServiceClient } from "@millrace/contracts";
import { initBackend, TrainingPool } from "@millrace/ml";
import {
  infrastructureChecks,
  listSetting,
  baseConfigSchema,
  healthConfigShape,
  connectInfrastructure,
  isEntryFile,
  runService,
  call,
  createLogger,
  grpc,
  grpcClientOptions,
  loadConfig,
  startHealthServer,
  systemClock,
  ValidationError,
  z,
  type Clock,
  type Logger,
} from "@millrace/runtime";
import { kindPolicies, Worker, workerConfigShape, type JobHandler } from "@millrace/worker";
import { handleForecast, handleTrainProduct } from "./forecasting";
import { handlePipeline, handleTrain, type TrainingDeps } from "./training";
import { validateModels } from "./validation";

export const configSchema = baseConfigSchema.extend({
  ...healthConfigShape(8084),
  TRAINER_QUEUES: listSetting("default,high,batch"),
  TRAINER_KINDS: listSetting("train,pipeline,forecast,train_product,maintenance"),
  TRAINER_CONCURRENCY: z.coerce.number().int().positive().default(2),
  TRAINING_THREADS: z.coerce.number().int().positive().default(1),
  // Recycle a training thread after this many jobs or this much heap (max-tasks-per-child).
  THREAD_MAX_JOBS: z.coerce.number().int().positive().default(50),
  THREAD_MAX_HEAP_MB: z.coerce.number().int().positive().default(1024),
  CANCEL_GRACE_MS: z.coerce.number().int().positive().default(500),
  ML_BACKENDS: listSetting("tensorflow,wasm,cpu"),
  ...workerConfigShape,
});
export type TrainerConfig = z.infer<typeof configSchema>;

export interface TrainerService {
  worker: Worker;
  backend: string;
  healthPort: number;
  close(): Promise<void>;
}

/** Wires the trainer; tests call this in-process. */
export async function startTrainer(config: TrainerConfig, deps: { clock?: Clock; logger?: Logger } = {}): Promise<TrainerService> {
  const logger = deps.logger ?? createLogger("trainer", config.LOG_LEVEL);
  const clock = deps.clock ?? systemClock;
  const backend = await initBackend(config.ML_BACKENDS as never);
  logger.info({ backend: backend.backend, fallbacks: backend.fallbacks }, "numeric backend selected");
  const { topo, nc, pool } = await connectInfrastructure(config, "trainer", logger, { poolMax: 4, ackWaitMs: config.JOB_ACK_WAIT_MS });
  const js = nc.jetstream();
  const datasets = new DatasetStore(pool, await js.views.os(topo.objectStore("datasets")));
  const registry = new Registry(pool, await js.views.os(topo.objectStore("models")), nc, topo.modelsChanged);
  const trainingPool = new TrainingPool({ size: config.TRAINING_THREADS, maxJobsPerThread: config.THREAD_MAX_JOBS, maxHeapMbPerThread: config.THREAD_MAX_HEAP_MB });
  const status = new StatusServiceClient(config.STATUS_GRPC_ADDR, grpc.credentials.createInsecure(), grpcClientOptions(config.GRPC_SERVICE_TOKEN));
  const d: TrainingDeps = { datasets, registry, pool: trainingPool, abortGraceMs: config.CANCEL_GRACE_MS };

  const handlers: Record<string, JobHandler> = {
    train: (ctx) => handleTrain(d, ctx),
    pipeline: (ctx) => handlePipeline(d, ctx),
    forecast: (ctx) => handleForecast({ pool, clock }, ctx),
    train_product: (ctx) => handleTrainProduct({ pool, clock }, ctx),
    maintenance: async (ctx) => {
      const p = ctx.job.payload;
      if (p?.$case !== "maintenance") throw new ValidationError("maintenance job without payload", { field: "payload" });
      if (p.value.action === "cleanup_expired_results") {
        // The job's own tenant only: a tenant's schedule must not sweep other tenants' rows
        // (the status service's periodic sweep, PURGE_EVERY_MS, covers every tenant).
        const r = await call(status, status.purgeExpired, { limit: 100_000, tenant: ctx.job.tenant }, 60_000, "status");
        return { action: p.value.action, purged: r.purged };
      }
      if (p.value.action === "validate_models") return validateModels({ pool, datasets, registry }, ctx);
      throw new ValidationError(`unknown maintenance action ${p.value.action}`, { field: "action" });
    },
  };
  const served = Object.fromEntries(Object.entries(handlers).filter(([k]) => config.TRAINER_KINDS.includes(k)));
  const policies = kindPolicies(Object.keys(handlers), config);
  const worker = new Worker({
    service: "trainer",
    nc,
    topo,
    queues: config.TRAINER_QUEUES,
    handlers: served,
    concurrency: config.TRAINER_CONCURRENCY,
    ackWaitMs: config.JOB_ACK_WAIT_MS,
    logger,
    clock,
    workerId: config.WORKER_ID,
    backend: backend.backend,
    status,
    cancelGraceMs: config.CANCEL_GRACE_MS + 300,
    policies,
  });
  await worker.start();
  const health = await startHealthServer(config.HEALTH_PORT, infrastructureChecks(nc, pool), config.HEALTH_HOST);
  logger.info({ worker_id: worker.workerId, kinds: worker.kinds, health_port: health.port }, "trainer ready");
  return {
    worker,
    backend: backend.backend,
    healthPort: health.port,
    async close() {
      await worker.drain(10_000);
      await trainingPool.close();
      health.server.close();
      status.close();
      await nc.drain().catch(() => undefined);
      await pool.end();
    },
  };
}

if (isEntryFile(import.meta.url)) runService("trainer", () => loadConfig(configSchema, process.env), (config, logger) => startTrainer(config, { logger }));
