// @millrace/worker: the job-consuming runtime shared by trainer and predictor.
export { Worker } from "./worker";
export type { JobContext, JobHandler, KindPolicy, WorkerOptions } from "./worker";
export { AttemptEvents } from "./events";
export { EventBatcher } from "./event-batch";
export type { EventBatcherOptions } from "./event-batch";
export { RevocationCache } from "./revocations";
export { Limits, concurrencyKey, parseLimits, parseTimeLimits } from "./limits";
export type { LimitPolicy } from "./limits";
export { NoHandlerError, TaskRevokedError, TimeLimitExceeded, WorkerShutdownError } from "./errors";
export { workerConfigShape, kindPolicies } from "./policy-config";
export { claimKey, RunClaims, type ClaimResult } from "./claims";
