import { Registry } from "@millrace/artifacts";
import { PredictorServiceService, RegistryServiceService, StatusServiceClient } from "@millrace/contracts";
import { initBackend } from "@millrace/ml";
import {
  infrastructureChecks,
  listSetting,
  baseConfigSchema,
  healthConfigShape,
  connectInfrastructure,
  isEntryFile,
  runService,
  createLogger,
  grpc,
  GRPC_CHANNEL_OPTIONS,
  grpcClientOptions,
  requireServiceToken,
  loadConfig,
  startGrpcServer,
  startHealthServer,
  stopGrpcServer,
  systemClock,
  z,
  type Clock,
  type Logger,
} from "@millrace/runtime";
import { kindPolicies, Worker, workerConfigShape, type JobHandler } from "@millrace/worker";
import { predictorService, registryService } from "./grpc-services";
import { jobHandlers } from "./jobs";
import { Serving } from "./serving";

export const configSchema = baseConfigSchema.extend({
  PREDICTOR_LISTEN: z.string().default("127.0.0.1:50052"),
  ...healthConfigShape(8082),
  PREDICTOR_QUEUES: listSetting("default,high,batch"),
  PREDICTOR_KINDS: listSetting("predict,explain"),
  PREDICTOR_CONCURRENCY: z.coerce.number().int().positive().default(64),
  // Predictions are short: a continuous pull per consumer ("stream") suits them.
  PREDICTOR_PULL_MODE: z.enum(["stream", "slots"]).default("stream"),
  MODEL_CACHE_BYTES: z.coerce.number().int().positive().default(512 * 1024 * 1024),
  MODEL_RESOLVE_TTL_MS: z.coerce.number().int().positive().default(5_000),
  MAX_INSTANCES: z.coerce.number().int().positive().default(10_000),
  ML_BACKENDS: listSetting("tensorflow,wasm,cpu"),
  ...workerConfigShape,
});
export type PredictorConfig = z.infer<typeof configSchema>;

export interface PredictorService {
  grpcPort: number;
  healthPort: number;
  serving: Serving;
  worker: Worker;
  close(): Promise<void>;
}

/** Wires the predictor; tests call this in-process. */
export async function startPredictor(config: PredictorConfig, deps: { clock?: Clock; logger?: Logger } = {}): Promise<PredictorService> {
  const logger = deps.logger ?? createLogger("predictor", config.LOG_LEVEL);
  const clock = deps.clock ?? systemClock;
  const backend = await initBackend(config.ML_BACKENDS as never);
  logger.info({ backend: backend.backend, fallbacks: backend.fallbacks }, "numeric backend selected");
  const { topo, nc, pool } = await connectInfrastructure(config, "predictor", logger, { poolMax: 6, ackWaitMs: config.JOB_ACK_WAIT_MS });
  const js = nc.jetstream();
  const registry = new Registry(pool, await js.views.os(topo.objectStore("models")), nc, topo.modelsChanged);
  const serving = new Serving(registry, { cacheBytes: config.MODEL_CACHE_BYTES, maxInstances: config.MAX_INSTANCES, resolveTtlMs: config.MODEL_RESOLVE_TTL_MS }, clock, logger);
  serving.listenForChanges(nc, topo.modelsChanged);
  const status = new StatusServiceClient(config.STATUS_GRPC_ADDR, grpc.credentials.createInsecure(), grpcClientOptions(config.GRPC_SERVICE_TOKEN));

  const handlers: Record<string, JobHandler> = jobHandlers(serving, clock);
  const policies = kindPolicies(Object.keys(handlers), config);
  const worker = new Worker({
    service: "predictor",
    nc,
    topo,
    queues: config.PREDICTOR_QUEUES,
    handlers: Object.fromEntries(Object.entries(handlers).filter(([k]) => config.PREDICTOR_KINDS.includes(k))),
    concurrency: config.PREDICTOR_CONCURRENCY,
    ackWaitMs: config.JOB_ACK_WAIT_MS,
    logger,
    clock,
    workerId: config.WORKER_ID,
    backend: backend.backend,
    status,
    policies,
    mode: config.PREDICTOR_PULL_MODE,
  });
  await worker.start();

  const server = new grpc.Server(GRPC_CHANNEL_OPTIONS);
  server.addService(PredictorServiceService, requireServiceToken(PredictorServiceService, predictorService(serving, backend.backend), config.GRPC_SERVICE_TOKEN));
  server.addService(RegistryServiceService, requireServiceToken(RegistryServiceService, registryService(registry), config.GRPC_SERVICE_TOKEN));
  const grpcPort = await startGrpcServer(server, config.PREDICTOR_LISTEN);
  const health = await startHealthServer(config.HEALTH_PORT, infrastructureChecks(nc, pool), config.HEALTH_HOST);
  logger.info({ grpc_port: grpcPort, health_port: health.port, worker_id: worker.workerId }, "predictor ready");
  return {
    grpcPort,
    healthPort: health.port,
    serving,
    worker,
    async close() {
      await worker.drain(10_000);
      await stopGrpcServer(server, 2_000);
      health.server.close();
      status.close();
      await nc.drain().catch(() => undefined);
      await pool.end();
    },
  };
}

if (isEntryFile(import.meta.url)) runService("predictor", () => loadConfig(configSchema, process.env), (config, logger) => startPredictor(config, { logger }));
