// GET /v1/workers: live workers from their heartbeats in the `workers` KV
// bucket (the bucket's TTL drops workers that died without saying so).
// Workers are shared by every tenant: each caller sees how many tasks a
// worker runs, but the ids of its own tasks only.
import { Hono } from "hono";
import type { KV } from "nats";
import { WorkerHeartbeat } from "@millrace/contracts";
import { DependencyUnavailableError, isoTime } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { iso } from "../task-view";

export function workerRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  let bucket: Promise<KV> | undefined;
  const kv = () => {
    bucket ??= deps.js.views.kv(deps.topo.bucket("workers")).catch((err) => {
      bucket = undefined;
      throw new DependencyUnavailableError("the workers bucket is unavailable", { cause: err });
    });
    return bucket;
  };

  app.get("/workers", async (c) => {
    const tenant = c.get("tenant");
    const store = await kv();
    const keys: string[] = [];
    for await (const k of await store.keys()) keys.push(k);
    const entries = await Promise.all(keys.map((k) => store.get(k)));
    const workers = [];
    for (const e of entries) {
      if (!e || e.operation !== "PUT" || e.value.length === 0) continue;
      let hb: WorkerHeartbeat;
      try {
        hb = WorkerHeartbeat.decode(e.value);
      } catch {
        continue;
      }
      workers.push({
        id: hb.workerId || e.key,
        host: hb.host,
        service: hb.service,
        pid: hb.pid,
        queues: hb.queues,
        kinds: hb.kinds,
        backend: hb.backend,
        in_flight: hb.inFlightTasks.filter((t) => t.tenant === tenant).map((t) => t.taskId),
        in_flight_count: hb.inFlightTasks.length,
        processed: hb.processed,
        failed: hb.failed,
        rss_bytes: hb.rssBytes,
        heap_used_bytes: hb.heapUsedBytes,
        started_at: iso(hb.startedAtMs),
        last_seen: isoTime(hb.atMs || e.created.getTime()),
      });
    }
    workers.sort((a, b) => a.id.localeCompare(b.id));
    // Wrapped like every other list ({tasks}, {datasets}, {models}, ...).
    return c.json({ workers });
  });

  return app;
}
