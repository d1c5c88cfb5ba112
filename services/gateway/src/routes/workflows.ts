// POST /v1/workflows: a chain / group / chord of steps as one task (kind
// `workflow`); the spec shape is documented at validateWorkflow (job-bodies.ts).
import { Hono } from "hono";
import { z } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { validateWorkflow, WORKFLOW_KEYS } from "../job-bodies";
import { accepted, submitTask } from "../submit";
import { jobOptions, jobOptionsShape, nameSchema, parseWith, readJsonObject, rejectUnknownKeys, shapeFields } from "../validation";

const workflowOptions = z.object({ name: nameSchema.optional(), ...jobOptionsShape });
/** A workflow request is its spec with the workflow's own options beside it. */
const REQUEST_KEYS: ReadonlySet<string> = new Set([...WORKFLOW_KEYS, ...Object.keys(workflowOptions.shape)]);

export function workflowRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  app.post("/workflows", async (c) => {
    const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES);
    rejectUnknownKeys(raw, REQUEST_KEYS);
    const opts = parseWith(workflowOptions, shapeFields(raw, workflowOptions.shape));
    const workflow = validateWorkflow(raw, deps.config.MAX_INSTANCES);
    const s = await submitTask(deps, c, { kind: "workflow", payload: { $case: "workflow", value: workflow }, options: jobOptions(opts), name: opts.name, body: raw });
    return accepted(deps, c, s);
  });

  return app;
}
