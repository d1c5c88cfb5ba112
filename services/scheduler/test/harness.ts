// Shared set-up for the scheduler's integration tests: a unique NATS namespace,
// a fresh database, the status fake, and a gRPC client for SchedulerService.
import { Job, Schedule, SchedulerServiceClient } from "@millrace/contracts";
import { GRPC_CHANNEL_OPTIONS, call, grpc, loadConfig } from "@millrace/runtime";
import { dbFixture, natsFixture, type DbFixture, type NatsFixture } from "@millrace/testkit";
import { configSchema, type SchedulerConfig } from "../src/main";
import { startStatusFake, type StatusFake } from "./status-fake";

export interface Env {
  fx: NatsFixture;
  db: DbFixture;
  status: StatusFake;
  env(overrides?: Record<string, string>): Record<string, string>;
  config(overrides?: Record<string, string>): SchedulerConfig;
  cleanup(): Promise<void>;
}

export async function schedulerEnv(): Promise<Env> {
  const [fx, db, status] = await Promise.all([natsFixture(), dbFixture(), startStatusFake()]);
  const env = (overrides: Record<string, string> = {}) => ({
    NATS_URL: fx.natsUrl,
    DATABASE_URL: db.url,
    MILLRACE_NAMESPACE: fx.ns,
    STATUS_GRPC_ADDR: status.addr,
    SCHEDULER_GRPC_ADDR: "127.0.0.1:0",
    HEALTH_PORT: "0",
    HEALTH_HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    ...overrides,
  });
  return {
    fx,
    db,
    status,
    env,
    config: (overrides) => loadConfig(configSchema, env(overrides)),
    async cleanup() {
      await status.close();
      await fx.cleanup();
      await db.cleanup();
    },
  };
}

/**
 * A promise-returning SchedulerService client; failures come back as typed
 * errors. Like the gateway, upsert sends enabled = true unless told otherwise.
 */
export function schedulerClient(port: number) {
  const c = new SchedulerServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
  return {
    close: () => c.close(),
    list: async (tenant = "") => (await call(c, c.listSchedules, { tenant })).schedules,
    get: (name: string, tenant = "") => call(c, c.getSchedule, { tenant, name }),
    upsert: (schedule: Partial<Schedule>, opts: { createOnly?: boolean; patch?: boolean; fields?: string[] } = {}) =>
      call(c, c.upsertSchedule, { schedule: Schedule.fromPartial({ enabled: true, ...schedule }), createOnly: opts.createOnly ?? false, patch: opts.patch ?? false, fields: opts.fields ?? [] }),
    remove: (name: string, tenant = "") => call(c, c.deleteSchedule, { tenant, name }),
    trigger: (name: string, tenant = "") => call(c, c.triggerSchedule, { tenant, name }),
    runs: async (name: string, tenant = "", limit = 100) => (await call(c, c.listRuns, { tenant, name, limit })).runs,
    ping: async () => (await call(c, c.ping, {}, 2_000)).leader,
  };
}

export type SchedulerClient = ReturnType<typeof schedulerClient>;

/** Every job message on the namespace's JOBS stream, with its Nats-Msg-Id. */
export async function jobsOnStream(fx: NatsFixture): Promise<{ msgId: string; job: Job }[]> {
  const jsm = await fx.nc.jetstreamManager();
  const info = await jsm.streams.info(fx.topo.jobsStream);
  const out: { msgId: string; job: Job }[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    try {
      const m = await jsm.streams.getMessage(fx.topo.jobsStream, { seq });
      out.push({ msgId: m.header.get("Nats-Msg-Id"), job: Job.decode(m.data) });
    } catch {
      // deleted sequence
    }
  }
  return out;
}
