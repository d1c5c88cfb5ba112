// The Hono app: middleware, the error mapping and every route, built from
// GatewayDeps so tests can build it in-process with their own dependencies.
import { Hono } from "hono";
import { allowedMethods } from "./allowed-methods";
import { requireAuth } from "./auth";
import type { GatewayDeps, GatewayEnv } from "./context";
import { errorHandler, notFoundHandler } from "./errors";
import { requestLog } from "./request-log";
import { datasetRoutes } from "./routes/datasets";
import { forecastRoutes } from "./routes/forecast";
import { healthRoutes } from "./routes/health";
import { modelRoutes } from "./routes/models";
import { pipelineRoutes } from "./routes/pipelines";
import { predictRoutes } from "./routes/predict";
import { scheduleRoutes } from "./routes/schedules";
import { taskRoutes } from "./routes/tasks";
import { trainRoutes } from "./routes/train";
import { workerRoutes } from "./routes/workers";
import { workflowRoutes } from "./routes/workflows";

export function buildApp(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.onError(errorHandler(deps.logger));
  app.use("*", requestLog(deps.logger));
  app.route("/", healthRoutes(deps));

  app.use("/v1/*", requireAuth(deps.auth));
  for (const routes of [
    taskRoutes,
    datasetRoutes,
    trainRoutes,
    predictRoutes,
    pipelineRoutes,
    forecastRoutes,
    workflowRoutes,
    workerRoutes,
    modelRoutes,
    scheduleRoutes,
  ]) {
    app.route("/v1", routes(deps));
  }
  app.notFound(notFoundHandler(allowedMethods(app)));
  return app;
}
