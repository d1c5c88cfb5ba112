// What the gateway's routes are built from. main.ts connects the real things;
// tests pass their own (fixtures, in-test gRPC servers).
import type { JetStreamClient, NatsConnection } from "nats";
import type { PredictorServiceClient, RegistryServiceClient, SchedulerServiceClient, StatusServiceClient } from "@millrace/contracts";
import type { Clock, Logger, Pool, Topology } from "@millrace/runtime";
import type { Job } from "@millrace/contracts";
import type { Idempotency, Recorded } from "@millrace/submissions";
import type { Authenticator } from "./auth";
import type { FinishedTasks } from "./finished-tasks";
import type { GatewayConfig } from "./config";

/**
 * Where a submit records its task (the PENDING row holding the job) before
 * publishing the job: @millrace/submissions on the gateway's own Postgres
 * pool, so a submit's 202 waits on one insert and no call to another service.
 */
export interface TaskRecorder {
  /** `encoded` is Job.encode(job), which the caller publishes too. */
  record(job: Job, idempotency?: Idempotency, encoded?: Uint8Array): Promise<Recorded>;
}

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  nc: NatsConnection;
  js: JetStreamClient;
  topo: Topology;
  pool: Pool;
  submissions: TaskRecorder;
  status: StatusServiceClient;
  predictor: PredictorServiceClient;
  registry: RegistryServiceClient;
  scheduler: SchedulerServiceClient;
  auth: Authenticator;
  /** Finished tasks from the done notices; polls of them skip the status service. */
  finished?: FinishedTasks;
  clock: Clock;
  /** Aborted when the gateway drains: long polls and event streams end early. */
  shutdown: AbortSignal;
}

/** Per-request values set by middleware and read by the request log. */
export type GatewayEnv = {
  Variables: {
    tenant: string;
    subject: string;
    taskId?: string;
    errorCode?: string;
  };
};
