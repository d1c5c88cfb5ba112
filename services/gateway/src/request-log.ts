// One log line per request: method, path, status, duration, tenant and the
// task it touched. Headers are never logged (tokens stay out of the logs).
import type { MiddlewareHandler } from "hono";
import type { Logger } from "@millrace/runtime";
import type { GatewayEnv } from "./context";

export function requestLog(logger: Logger): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const start = performance.now();
    await next();
    const status = c.res.status;
    // Successful reads (status polls above all) are the bulk of traffic and
    // change nothing: they log at debug. Writes and client errors log at info.
    const level = status >= 500 ? "error" : c.req.method === "GET" && status < 400 ? "debug" : "info";
    // The line is only built when it will be written (the common poll is not).
    if (!logger.isLevelEnabled(level)) return;
    const line = {
      method: c.req.method,
      path: c.req.path,
      status,
      ms: Math.round((performance.now() - start) * 10) / 10,
      tenant: c.get("tenant"),
      task_id: c.get("taskId"),
      code: c.get("errorCode"),
    };
    logger[level](line, "request");
  };
}
