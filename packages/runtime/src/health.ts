import { createServer, type Server } from "node:http";
import type { NatsConnection } from "nats";
import type { Pool } from "./postgres";

export type ReadinessCheck = () => Promise<void>;

/**
 * /healthz answers while the process runs; /readyz runs every check and
 * answers 503 naming the first dependency that failed.
 */
export function startHealthServer(port: number, checks: Record<string, ReadinessCheck>, host = "127.0.0.1"): Promise<{ server: Server; port: number }> {
  const server = createServer(async (req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      return;
    }
    if (req.url === "/readyz") {
      const result = await readiness(checks);
      res.writeHead(result.ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(result));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === "object" && addr ? addr.port : port });
    });
  });
}

/**
 * A back-end service's /readyz checks: its NATS connection (open, and a
 * round trip to the server) and its Postgres pool. A closed connection fails
 * at once; one that is reconnecting fails on readiness's timeout.
 */
export function infrastructureChecks(nc: NatsConnection, pool: Pool): Record<string, ReadinessCheck> {
  return {
    nats: async () => {
      if (nc.isClosed()) throw new Error("nats connection closed");
      await nc.flush();
    },
    postgres: async () => {
      await pool.query("select 1");
    },
  };
}

export async function readiness(checks: Record<string, ReadinessCheck>, timeoutMs = 2_000): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const out: Record<string, string> = {};
  let ready = true;
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await Promise.race([check(), new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), timeoutMs).unref())]);
        out[name] = "ok";
      } catch (err) {
        ready = false;
        out[name] = err instanceof Error ? err.message : String(err);
      }
    }),
  );
  return { ready, checks: out };
}
