import { createServer, type Server } from "node:http";

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
