// POST /v1/train: checks the dataset, target and model before anything is
// queued. The trainer fits @millrace/ml's trainSpec(target, model); the same
// spec is validated here against the dataset's schema, so bad model params or
// a target the model cannot learn (a regression on a category) are 400s too.
import { Hono } from "hono";
import { trainSpec, validatePipeline } from "@millrace/ml";
import { ValidationError } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { requireDataset } from "../dataset-store";
import { trainFields, trainPayload } from "../job-bodies";
import { accepted, submitTask } from "../submit";
import { jobOptions, jobOptionsShape, parseWith, readJsonObject } from "../validation";

const trainBody = trainFields.extend(jobOptionsShape);

/** `pipeline[6].input.params.max_depth` (the spec's model node) → `model.params.max_depth`. */
function trainField(field: string | undefined, modelIndex: number): string {
  const m = /^pipeline\[(\d+)\]\.input(?:\.(.*))?$/.exec(field ?? "");
  if (!m || Number(m[1]) !== modelIndex) return "model";
  const rest = m[2] ?? "";
  if (rest === "target" || rest.startsWith("target")) return "target";
  if (rest === "type") return "model.type";
  return rest.startsWith("params") ? `model.${rest}` : "model";
}

export function trainRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  app.post("/train", async (c) => {
    const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES);
    const b = parseWith(trainBody, raw);
    const ds = await requireDataset(deps.pool, c.get("tenant"), b.dataset_id);
    if (!ds.columns.some((col) => col.name === b.target)) {
      throw new ValidationError(`target: '${b.target}' is not a column of dataset ${b.dataset_id} (${ds.columns.map((col) => col.name).join(", ")})`, {
        field: "target",
      });
    }
    const spec = trainSpec(b.target, { type: b.model.type, params: b.model.params }, { dataset_id: b.dataset_id, pipeline_name: b.name });
    try {
      validatePipeline(spec, ds.columns);
    } catch (err) {
      const e = err as { httpStatus?: number; field?: string; message?: string };
      if (e.httpStatus !== 400) throw err;
      const field = trainField(e.field, spec.pipeline.length - 1);
      throw new ValidationError(`${field}: ${String(e.message).replace(/^[^:]*: /, "")}`, { field, cause: err });
    }
    const s = await submitTask(deps, c, { kind: "train", payload: trainPayload(b), options: jobOptions(b), name: b.name, body: raw });
    return accepted(deps, c, s);
  });

  return app;
}
