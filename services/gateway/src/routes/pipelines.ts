// Pipelines of nodes, whole (/pipelines/run*) or one node alone (/nodes/run*).
// The async variants answer 202 at once; the sync ones wait for the task
// (up to SYNC_WAIT_MS) and answer 200 with it, or 202 if it is still running.
//
// Before anything is queued a pipeline is checked with @millrace/ml's
// validatePipeline against its dataset's schema (from the datasets table), so
// a bad node, parameter or column is a 400 naming e.g. pipeline[3].input.columns[1].
import { Hono, type Context } from "hono";
import { NODE_TYPES, PipelineValidationError, validatePipeline } from "@millrace/ml";
import { ValidationError } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { requireDataset, type DatasetRow } from "../dataset-store";
import { nodeFields, pipelineFields, pipelinePayload, type PipelineNode } from "../job-bodies";
import { accepted, submitAndWait, submitTask, type SubmitSpec } from "../submit";
import { jobOptions, jobOptionsShape, parseWith, readJsonObject } from "../validation";

const pipelineBody = pipelineFields.extend(jobOptionsShape);
const nodeBody = nodeFields.extend(jobOptionsShape);
const NODES = new Map(NODE_TYPES.map((n) => [n.node_type as string, n]));
const SOURCES = new Set(["dataset", "upload_file"]);

function unknownNode(nodeType: string, field: string): never {
  throw new ValidationError(`${field}: unknown node type '${nodeType}' (expected one of: ${[...NODES.keys()].join(", ")})`, { field });
}

/** The dataset a source node reads: `dataset_id` (dataset) or `file_id` (upload_file). */
function sourceDatasetId(node: PipelineNode): { id: unknown; key: string } {
  const key = node.node_type === "upload_file" && node.input.file_id !== undefined ? "file_id" : "dataset_id";
  return { id: node.input[key], key };
}

/** `at` is where the node sits in the body: "pipeline[0]", or "" for a lone node. */
async function sourceDataset(deps: GatewayDeps, tenant: string, node: PipelineNode | undefined, at: string): Promise<DatasetRow> {
  const prefix = at ? `${at}.` : "";
  if (!node || !SOURCES.has(node.node_type)) {
    throw new ValidationError(`${prefix}node_type: the first node must be a dataset node with input.dataset_id`, { field: `${prefix}node_type` });
  }
  const { id, key } = sourceDatasetId(node);
  const field = `${prefix}input.${key}`;
  if (typeof id !== "string" || !id) throw new ValidationError(`${field}: a dataset id is required`, { field });
  return requireDataset(deps.pool, tenant, id, field);
}

/**
 * A lone node's parameters (types, enums, ranges) and the columns it names,
 * checked against the dataset before anything is queued, so a bad value is a
 * 400 like in a pipeline rather than a task that fails. validatePipeline checks
 * every node's parameters before the pipeline's structure, so a lone node's own
 * problems surface first and the structural complaint (no model node) that
 * follows them is expected and ignored; a model node is validated in full.
 */
function checkLoneNode(node: PipelineNode, ds: DatasetRow): void {
  try {
    validatePipeline({ pipeline_name: "node", pipeline: [node] }, ds.columns);
  } catch (err) {
    const field = (err as { field?: unknown }).field;
    if (!(err instanceof PipelineValidationError) || typeof field !== "string" || !field.startsWith("pipeline[0].")) throw err;
    const own = field.slice("pipeline[0].".length);
    if (own.startsWith("input") || node.node_type === "model") {
      throw new ValidationError(`${own}: ${err.message.replace(/^pipeline\[0\]\.\S*:\s*/, "")}`, { field: own });
    }
  }
  const names = new Set(ds.columns.map((c) => c.name));
  const cols = node.input.columns;
  if (Array.isArray(cols)) {
    cols.forEach((col, i) => {
      if (typeof col === "string" && !names.has(col)) {
        throw new ValidationError(`input.columns[${i}]: column '${col}' does not exist (columns: ${[...names].slice(0, 20).join(", ")})`, { field: `input.columns[${i}]` });
      }
    });
  }
}

export function pipelineRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  async function pipelineSpec(c: Context<GatewayEnv>): Promise<SubmitSpec> {
    const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES);
    const b = parseWith(pipelineBody, raw);
    b.pipeline.forEach((n, i) => NODES.has(n.node_type) || unknownNode(n.node_type, `pipeline[${i}].node_type`));
    const ds = await sourceDataset(deps, c.get("tenant"), b.pipeline[0], "pipeline[0]");
    // Throws PipelineValidationError (400, field) on the first problem.
    validatePipeline({ pipeline_name: b.pipeline_name, pipeline: b.pipeline }, ds.columns);
    return { kind: "pipeline", payload: pipelinePayload(b.pipeline_name, b.pipeline, false), options: jobOptions(b), name: b.pipeline_name, body: raw };
  }

  async function nodeSpec(c: Context<GatewayEnv>): Promise<SubmitSpec> {
    const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES);
    const b = parseWith(nodeBody, raw);
    const info = NODES.get(b.node_type) ?? unknownNode(b.node_type, "node_type");
    for (const key of Object.keys(b.input)) {
      if (!(key in info.params)) throw new ValidationError(`input.${key}: unknown parameter (expected one of: ${Object.keys(info.params).join(", ")})`, { field: `input.${key}` });
    }
    for (const [key, spec] of Object.entries(info.params)) {
      if (spec.required && b.input[key] === undefined) throw new ValidationError(`input.${key}: is required`, { field: `input.${key}` });
    }
    const node: PipelineNode = { node_type: b.node_type, input: b.input };
    // The worker runs the node on the source's data: [source, node], or the source alone.
    let nodes: PipelineNode[];
    if (SOURCES.has(b.node_type)) {
      await sourceDataset(deps, c.get("tenant"), node, "");
      nodes = [node];
    } else {
      if (!b.dataset_id) throw new ValidationError("dataset_id: the dataset to run the node on is required", { field: "dataset_id" });
      const ds = await requireDataset(deps.pool, c.get("tenant"), b.dataset_id, "dataset_id");
      checkLoneNode(node, ds);
      nodes = [{ node_type: "dataset", input: { dataset_id: b.dataset_id } }, node];
    }
    return { kind: "pipeline", payload: pipelinePayload(b.pipeline_name, nodes, true), options: jobOptions(b), name: b.pipeline_name, body: raw };
  }

  app.post("/pipelines/run-async", async (c) => accepted(deps, c, await submitTask(deps, c, await pipelineSpec(c))));
  app.post("/pipelines/run", async (c) => submitAndWait(deps, c, await pipelineSpec(c)));
  app.post("/nodes/run-async", async (c) => accepted(deps, c, await submitTask(deps, c, await nodeSpec(c))));
  app.post("/nodes/run", async (c) => submitAndWait(deps, c, await nodeSpec(c)));

  return app;
}
