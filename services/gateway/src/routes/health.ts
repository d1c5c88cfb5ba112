// /healthz: the process answers. /readyz: NATS, Postgres and the status
// service all answer (503 naming the ones that did not, or while draining).
import { Hono } from "hono";
import type { JetStreamManager } from "nats";
import { call, readiness } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { errorBody } from "../errors";

export function healthRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  let jsm: Promise<JetStreamManager> | undefined;

  const checks = {
    nats: async () => {
      if (deps.nc.isClosed()) throw new Error("connection closed");
      await deps.nc.flush();
      jsm ??= deps.nc.jetstreamManager().catch((err) => {
        jsm = undefined;
        throw err;
      });
      await (await jsm).streams.info(deps.topo.jobsStream);
    },
    postgres: async () => {
      await deps.pool.query("select 1");
    },
    status: async () => {
      await call(deps.status, deps.status.ping, {}, 2_000, "status");
    },
  };

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    if (deps.shutdown.aborted) {
      return c.json({ ready: false, checks: { gateway: "draining" }, failing: ["gateway"], ...errorBody("NOT_READY", "not ready: draining") }, 503);
    }
    const r = await readiness(checks, 2_000);
    if (r.ready) return c.json(r, 200);
    const failing = Object.entries(r.checks)
      .filter(([, v]) => v !== "ok")
      .map(([k]) => k);
    return c.json({ ...r, failing, ...errorBody("NOT_READY", `not ready: ${failing.join(", ")}`) }, 503);
  });

  return app;
}
