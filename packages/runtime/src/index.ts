// @millrace/runtime: what every service shares — config, logging, typed
// errors, clock, bounded caches, NATS topology and publishing, Postgres and
// migrations, gRPC plumbing, health endpoints and shutdown.
export { loadConfig, baseConfigSchema, healthConfigShape, commaList, listSetting, z } from "./config";
export type { BaseConfig } from "./config";
export { createLogger, redactUrl } from "./logger";
export type { Logger } from "./logger";
export {
  MillraceError,
  ValidationError,
  DataError,
  NotFoundError,
  ConflictError,
  GoneError,
  QuotaExceededError,
  PayloadTooLargeError,
  UnauthorizedError,
  IdempotencyConflictError,
  DependencyUnavailableError,
  TransientError,
  ConfigError,
  isRetryable,
  errorCode,
  errorType,
  errorMessage,
} from "./errors";
export { systemClock, ManualClock } from "./clock";
export { BoundedMap } from "./bounded-map";
export type { BoundedMapOptions } from "./bounded-map";
export { isoTime } from "./iso-time";
export { expiredError, expiredEvent, lateForStart, startByAt } from "./start-by";
export type { Clock } from "./clock";
export { Topology, ensureTopology, destroyTopology, JOB_KINDS, MAINTENANCE_ACTIONS, QUEUES, DEFAULT_TOPOLOGY, isJobKind, isQueue } from "./topology";
export type { JobKind, QueueName, TopologyOptions } from "./topology";
export { connectNats, natsOptionsFrom } from "./nats";
export { revokedTokenKey, tokenHash } from "./revoked-tokens";
export type { RevocationKind } from "./revoked-tokens";
export { connectPostgres, ensureDatabase, dropDatabase, inTransaction, migrate } from "./postgres";
export type { Pool, PoolClient } from "./postgres";
export { grpc, unary, call, startGrpcServer, stopGrpcServer, toServiceError, fromServiceError, errorFromCode, GRPC_CHANNEL_OPTIONS } from "./grpc";
export { grpcClientOptions, requireServiceToken } from "./service-token";
export { signHs256Token } from "./bearer-token";
export { mirrorKv } from "./kv-mirror";
export { startHealthServer, readiness, infrastructureChecks } from "./health";
export type { ReadinessCheck } from "./health";
export { onShutdown } from "./shutdown";
export { publishJob, publishJobUnacked, publishEvent, publishEncodedEvent, publishEncodedUnacked, publishEventBatch, encodeEvent, decodeEvents, jobEvent, publishDeadLetter, jobMessageId, eventId } from "./publish";
export { DEFAULT_RETRY, mergeRetry, retryDelayMs } from "./backoff";
export { TERMINAL_STATES, isTerminal, stateName, stateFromName } from "./states";
export { reachable, freePort } from "./ports";
export { isEntryFile, runService } from "./entry";
export { connectInfrastructure } from "./infrastructure";
export { subscribeTaskChanges } from "./task-changes";
