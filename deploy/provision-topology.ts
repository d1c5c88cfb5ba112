// Creates every JetStream stream, consumer, KV bucket and object store that
// Millrace uses, with the replica count production needs, before the services
// start. The Helm chart runs it as a pre-install/pre-upgrade Job with the
// `provisioner` NATS user; the services' own users then only need the INFO
// APIs for start-up (each service's ensureTopology() finds everything present
// and creates nothing), never the CREATE ones.
//
//   node --import tsx deploy/provision-topology.ts      (the image: `millrace-entrypoint topology`)
//
// ensureTopology() leaves an existing stream as it is, so a stream created
// earlier with fewer replicas stays that way: this script then exits non-zero
// and names it, rather than letting a deploy believe it runs on R3.
import { baseConfigSchema, connectNats, createLogger, ensureTopology, isEntryFile, loadConfig, Topology, z, type Logger } from "@millrace/runtime";

export const provisionConfigSchema = baseConfigSchema
  .pick({ NATS_URL: true, NATS_USER: true, NATS_PASSWORD: true, LOG_LEVEL: true, MILLRACE_NAMESPACE: true })
  .extend({
    // 3 on a clustered JetStream (production); 1 on a single server.
    TOPOLOGY_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
    // The job consumers' ack_wait: keep it equal to the services' JOB_ACK_WAIT_MS.
    JOB_ACK_WAIT_MS: z.coerce.number().int().positive().default(30_000),
  });
export type ProvisionConfig = z.infer<typeof provisionConfigSchema>;

/** The JetStream streams behind the topology (KV buckets and object stores are streams too). */
export function topologyStreams(topo: Topology): string[] {
  return [
    topo.jobsStream,
    topo.eventsStream,
    topo.deadLetterStream,
    ...(["revocations", "leases", "workers", "limits", "claims", "revoked_tokens"] as const).map((b) => `KV_${topo.bucket(b)}`),
    ...(["datasets", "models"] as const).map((o) => `OBJ_${topo.objectStore(o)}`),
  ];
}

export interface ProvisionResult {
  created: string[];
  /** Streams whose replica count differs from TOPOLOGY_REPLICAS. */
  mismatched: { stream: string; replicas: number }[];
}

export async function provisionTopology(config: ProvisionConfig, logger: Logger): Promise<ProvisionResult> {
  const topo = new Topology(config.MILLRACE_NAMESPACE);
  const nc = await connectNats({ url: config.NATS_URL, user: config.NATS_USER, password: config.NATS_PASSWORD, name: "provisioner", logger });
  try {
    const { created } = await ensureTopology(nc, topo, { replicas: config.TOPOLOGY_REPLICAS, ackWaitMs: config.JOB_ACK_WAIT_MS });
    const jsm = await nc.jetstreamManager();
    const mismatched: ProvisionResult["mismatched"] = [];
    for (const stream of topologyStreams(topo)) {
      const info = await jsm.streams.info(stream);
      const replicas = info.config.num_replicas || 1;
      if (replicas !== config.TOPOLOGY_REPLICAS) mismatched.push({ stream, replicas });
    }
    return { created, mismatched };
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const config = loadConfig(provisionConfigSchema, process.env);
  const logger = createLogger("provisioner", config.LOG_LEVEL);
  const r = await provisionTopology(config, logger);
  logger.info({ created: r.created, replicas: config.TOPOLOGY_REPLICAS }, r.created.length ? "topology created" : "topology already present");
  if (r.mismatched.length) {
    logger.error(
      { mismatched: r.mismatched, want: config.TOPOLOGY_REPLICAS },
      "streams exist with another replica count; change them with `nats stream edit <name> --replicas N` (a clustered server moves the data), then run this again",
    );
    process.exit(2);
  }
}

if (isEntryFile(import.meta.url)) {
  main().catch((err) => {
    createLogger("provisioner").fatal({ err }, "topology provisioning failed");
    process.exit(1);
  });
}
