// POST /v1/workflows: a chain / group / chord of steps as one task (kind
// `workflow`); the spec shape is documented at validateWorkflow (job-bodies.ts).
import { Hono } from "hono";
import { z } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { validateWorkflow } from "../job-bodies";
import { accepted, submitTask } from "../submit";
import { jobOptions, jobOptionsShape, nameSchema, parseWith, readJsonObject } from "../validation";

const workflowOptions = z.object({ name: nameSchema.optional(), ...jobOptionsShape });

export function workflowRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  app.post("/workflows", async (c) => {
    const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES);
    const opts = parseWith(workflowOptions, { name: raw.name, queue: raw.queue, retry: raw.retry, time_limits: raw.time_limits, start_within_ms: raw.start_within_ms });
    const workflow = validateWorkflow(raw, deps.config.MAX_INSTANCES);
    const s = await submitTask(deps, c, { kind: "workflow", payload: { $case: "workflow", value: workflow }, options: jobOptions(opts), name: opts.name, body: raw });
    return accepted(deps, c, s);
  });

  return app;
}
