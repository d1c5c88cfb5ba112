// Prediction and explanation. The sync variants call the predictor over gRPC
// (no queue) and splice its JSON bytes into the answer without re-parsing;
// the async variants queue a predict/explain job.
import { Hono, type Context } from "hono";
import type { InputWarning } from "@millrace/contracts";
import { call } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { predictFields, predictPayload } from "../job-bodies";
import { accepted, submitTask } from "../submit";
import { KnownModels } from "../known-models";
import { JSON_TYPE } from "../task-view";
import { checkInstances, jobOptions, jobOptionsShape, parseWith, readJsonObject } from "../validation";

const predictBody = predictFields.extend(jobOptionsShape);

const jsonOr = (bytes: Uint8Array | undefined, fallback: string): string =>
  bytes && bytes.length ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8") : fallback;

/** `,"warnings":[...]` when the predictor has any (see InputWarning), else nothing: as in an async task's result. */
function warningsJson(warnings: InputWarning[] | undefined): string {
  return warnings?.length ? `,"warnings":${JSON.stringify(warnings.map((w) => ({ code: w.code, column: w.column, message: w.message })))}` : "";
}

export function predictRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  // The sync routes take up to MAX_INSTANCES rows in one body (never less than MAX_BODY_BYTES).
  const syncBodyLimit = Math.max(deps.config.MAX_BODY_BYTES, deps.config.MAX_PREDICT_BODY_BYTES);
  const knownModels = new KnownModels(deps.registry, deps.clock, deps.logger);

  async function readRequest(c: Context<GatewayEnv>, limit = deps.config.MAX_BODY_BYTES) {
    const raw = await readJsonObject(c, limit);
    const b = parseWith(predictBody, raw);
    const instances = checkInstances(b.instances, deps.config.MAX_INSTANCES);
    return { raw, b, instancesJson: Buffer.from(JSON.stringify(instances)) };
  }

  for (const kind of ["predict", "explain"] as const) {
    app.post(`/${kind}/async`, async (c) => {
      const { raw, b, instancesJson } = await readRequest(c);
      await knownModels.check(c.get("tenant"), b.model);
      const s = await submitTask(deps, c, { kind, payload: predictPayload(kind, b.model, instancesJson), options: jobOptions(b), body: raw });
      return accepted(deps, c, s);
    });
  }

  app.post("/predict", async (c) => {
    const { b, instancesJson } = await readRequest(c, syncBodyLimit);
    const r = await call(
      deps.predictor,
      deps.predictor.predict,
      { tenant: c.get("tenant"), model: b.model, instancesJson, taskId: "" },
      deps.config.SYNC_WAIT_MS,
      "predictor",
    );
    const model = JSON.stringify({ name: r.model?.name ?? "", version: r.model?.version ?? 0 });
    const probabilities = r.probabilitiesJson && r.probabilitiesJson.length ? `,"probabilities":${jsonOr(r.probabilitiesJson, "null")}` : "";
    const backend = r.backend ? `,"backend":${JSON.stringify(r.backend)}` : "";
    return c.body(`{"model":${model},"predictions":${jsonOr(r.predictionsJson, "[]")}${probabilities}${backend}${warningsJson(r.warnings)}}`, 200, JSON_TYPE);
  });

  app.post("/explain", async (c) => {
    const { b, instancesJson } = await readRequest(c, syncBodyLimit);
    const r = await call(deps.predictor, deps.predictor.explain, { tenant: c.get("tenant"), model: b.model, instancesJson }, deps.config.SYNC_WAIT_MS, "predictor");
    const model = JSON.stringify({ name: r.model?.name ?? "", version: r.model?.version ?? 0 });
    return c.body(`{"model":${model},"method":${JSON.stringify(r.method)},"explanations":${jsonOr(r.explanationsJson, "[]")}${warningsJson(r.warnings)}}`, 200, JSON_TYPE);
  });

  return app;
}
