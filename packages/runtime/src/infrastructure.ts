import type { NatsConnection } from "nats";
import type { BaseConfig } from "./config";
import type { Logger } from "./logger";
import { connectNats, natsOptionsFrom } from "./nats";
import { connectPostgres, migrate, type Pool } from "./postgres";
import { ensureTopology, Topology } from "./topology";

/**
 * What every back-end service opens at start-up: NATS, Postgres (created and
 * migrated when needed) and the JetStream topology of its namespace.
 */
export async function connectInfrastructure(
  config: BaseConfig,
  name: string,
  logger: Logger,
  opts: { poolMax: number; ackWaitMs?: number },
): Promise<{ topo: Topology; nc: NatsConnection; pool: Pool }> {
  const topo = new Topology(config.MILLRACE_NAMESPACE);
  const nc = await connectNats(natsOptionsFrom(config, name, logger));
  const pool = await connectPostgres({ url: config.DATABASE_URL, createDatabase: true, max: opts.poolMax, logger });
  await migrate(pool, logger);
  await ensureTopology(nc, topo, opts.ackWaitMs ? { ackWaitMs: opts.ackWaitMs } : {});
  return { topo, nc, pool };
}
