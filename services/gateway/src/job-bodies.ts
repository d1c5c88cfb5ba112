// Request bodies of each job kind (snake_case, as users send them) and the
// Job payloads they become. Routes and workflow steps share these schemas, so
// a step inside a workflow is validated exactly like the same request alone.
import { Job, WorkflowJob } from "@millrace/contracts";
import { MODEL_TYPES as ML_MODEL_TYPES, type ModelType } from "@millrace/ml";
import { MAINTENANCE_ACTIONS, ValidationError, isJobKind, z, type JobKind } from "@millrace/runtime";
import { checkInstances, fieldPath, jobOptions, jobOptionsShape, modelRefSchema, nameSchema, parseWith, rejectUnknownKeys, shapeFields, type JobOptionsInput } from "./validation";

/** linear_regression, logistic_regression, decision_tree, random_forest, neural_network: @millrace/ml's catalogue. */
export const MODEL_TYPES = ML_MODEL_TYPES.map((m) => m.type) as [ModelType, ...ModelType[]];

const oneOf = (values: readonly string[]) => ({ errorMap: () => ({ message: `must be one of ${values.join(", ")}` }) });
const jsonObject = z.record(z.unknown());

export const skuSchema = z.string().trim().min(1, "must not be empty").max(128);

export const trainFields = z.object({
  dataset_id: z.string().min(1).max(128),
  target: z.string().min(1).max(256),
  model: z.object({
    type: z.enum(MODEL_TYPES, oneOf(MODEL_TYPES)),
    params: jsonObject.optional(),
  }).strict(),
  name: nameSchema,
  // Optional preprocessing pipeline fitted before the model.
  options: jsonObject.optional(),
}).strict();
export type TrainFields = z.infer<typeof trainFields>;

export function trainPayload(b: TrainFields): Job["payload"] {
  return {
    $case: "train",
    value: { datasetId: b.dataset_id, target: b.target, model: { type: b.model.type, params: b.model.params ?? {} }, name: b.name, options: b.options },
  };
}

/** `instances` is checked by hand (checkInstances): zod is slow on 10,000 rows. */
export const predictFields = z.object({ model: modelRefSchema, instances: z.unknown() }).strict();

export function predictPayload(kind: "predict" | "explain", model: string, instancesJson: Buffer): Job["payload"] {
  return kind === "predict" ? { $case: "predict", value: { model, instancesJson } } : { $case: "explain", value: { model, instancesJson } };
}

export const pipelineNode = z.object({
  node_type: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be a node type name (lowercase letters, digits, '_')"),
  input: jsonObject.default({}),
}).strict();
export type PipelineNode = z.infer<typeof pipelineNode>;

export const pipelineFields = z.object({
  pipeline_name: z.string().trim().min(1).max(128).default("pipeline"),
  pipeline: z.array(pipelineNode).min(1, "must have at least one node").max(200),
}).strict();

/** One node run alone on a dataset: `dataset_id`, or a source node that names it. */
export const nodeFields = z.object({
  pipeline_name: z.string().trim().min(1).max(128).default("node"),
  node_type: pipelineNode.shape.node_type,
  input: jsonObject.default({}),
  dataset_id: z.string().min(1).max(128).optional(),
}).strict();

export function pipelinePayload(name: string, nodes: PipelineNode[], singleNode: boolean): Job["payload"] {
  return { $case: "pipeline", value: { pipelineName: name, pipeline: nodes, singleNode } };
}

export const forecastFields = z.object({
  product_sku: skuSchema,
  days: z.number().int().min(1).max(365).default(7),
}).strict();

export function forecastPayload(sku: string, days: number): Job["payload"] {
  return { $case: "forecast", value: { productSku: sku, days, trainIfMissing: true } };
}

export const trainProductFields = z.object({ product_sku: skuSchema }).strict();
// An empty list means every SKU with sales when the job runs (scheduled retrains).
export const trainAllProductsFields = z.object({ product_skus: z.array(skuSchema).max(100_000).default([]) }).strict();
export const maintenanceFields = z.object({
  action: z.enum(MAINTENANCE_ACTIONS, { errorMap: () => ({ message: `must be one of ${MAINTENANCE_ACTIONS.join(", ")}` }) }),
  params: jsonObject.optional(),
}).strict();

// ------------------------------------------------------- payloads by kind

const KIND_FIELDS: Partial<Record<JobKind, z.ZodTypeAny>> = {
  train: trainFields,
  predict: predictFields,
  explain: predictFields,
  pipeline: pipelineFields,
  forecast: forecastFields,
  train_product: trainProductFields,
  train_all_products: trainAllProductsFields,
  maintenance: maintenanceFields,
};
/** Kinds a workflow step or a schedule may name (besides a nested workflow). */
export const STEP_KINDS = [...Object.keys(KIND_FIELDS), "workflow"];

export type Path = (string | number)[];

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

function fail(path: Path, message: string): never {
  const field = fieldPath(path) || "body";
  throw new ValidationError(`${field}: ${message}`, { field });
}

/** Drops undefined members so the spec encodes as a protobuf Struct. */
function compact(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/** A kind's validated fields (snake_case) and its Job payload. */
export interface KindPayload {
  fields: Record<string, unknown>;
  payload: Job["payload"];
}

/**
 * Validates a kind's payload with the same schema as that kind's own endpoint
 * and builds its Job payload. A `workflow` payload is a workflow spec.
 */
export function kindPayload(kind: string, raw: unknown, path: Path, maxInstances: number): KindPayload {
  if (kind === "workflow") {
    if (isObject(raw)) rejectUnknownKeys(raw, WORKFLOW_KEYS, path);
    const w = checkWorkflow(raw, path, 1, { steps: 0 }, maxInstances);
    return { fields: w.spec, payload: { $case: "workflow", value: w.value } };
  }
  const schema = isJobKind(kind) ? KIND_FIELDS[kind] : undefined;
  if (!schema) fail(path, `no payload for kind '${kind}'`);
  const f = compact(parseWith(schema, raw ?? {}, path) as Record<string, unknown>);
  switch (kind as JobKind) {
    case "train":
      return { fields: f, payload: trainPayload(f as TrainFields) };
    case "predict":
    case "explain": {
      const rows = checkInstances(f.instances, maxInstances, `${fieldPath(path)}.instances`);
      return { fields: f, payload: predictPayload(kind as "predict" | "explain", f.model as string, Buffer.from(JSON.stringify(rows))) };
    }
    case "pipeline":
      return { fields: f, payload: pipelinePayload(f.pipeline_name as string, f.pipeline as PipelineNode[], false) };
    case "forecast":
      return { fields: f, payload: forecastPayload(f.product_sku as string, f.days as number) };
    case "train_product":
      return { fields: f, payload: { $case: "trainProduct", value: { productSku: f.product_sku as string } } };
    case "train_all_products":
      return { fields: f, payload: { $case: "trainAllProducts", value: { productSkus: f.product_skus as string[] } } };
    default:
      return { fields: f, payload: { $case: "maintenance", value: { action: f.action as string, params: f.params as Record<string, unknown> | undefined } } };
  }
}

/**
 * A schedule's payload as the scheduler reads it: proto JSON of the kind's
 * message (it decodes with `<Message>.fromJSON`). Most kinds' request fields
 * already are the proto field names; predict/explain carry their instances as
 * base64 `instances_json`, forecasts train a missing model, workflows are the
 * full WorkflowJob.
 */
export function schedulePayload(kind: string, raw: unknown, maxInstances: number): Record<string, unknown> {
  const { fields, payload } = kindPayload(kind, raw, ["payload"], maxInstances);
  switch (payload?.$case) {
    case "predict":
    case "explain":
      return { model: payload.value.model, instances_json: Buffer.from(payload.value.instancesJson).toString("base64") };
    case "forecast":
      return { ...fields, train_if_missing: true };
    case "pipeline":
      return { ...fields, single_node: false };
    case "workflow":
      return WorkflowJob.toJSON(payload.value) as Record<string, unknown>;
    default:
      return fields;
  }
}

/**
 * The inverse of schedulePayload, for reading a schedule back: the payload in
 * the kind's request vocabulary, so what GET /v1/schedules/{name} shows can be
 * sent back in a PATCH (instances, not base64 instances_json; a workflow's
 * spec, not its compiled steps).
 */
export function schedulePayloadView(kind: string, stored: Record<string, unknown>): Record<string, unknown> {
  switch (kind) {
    case "predict":
    case "explain": {
      if (typeof stored.instances_json !== "string") return stored;
      const { instances_json, ...rest } = stored;
      try {
        return { ...rest, instances: JSON.parse(Buffer.from(instances_json, "base64").toString("utf8")) };
      } catch {
        return stored; // written by an older gateway in another shape: show it as stored
      }
    }
    case "forecast": {
      const { train_if_missing: _, ...rest } = stored;
      return rest;
    }
    case "pipeline": {
      const { single_node: _, ...rest } = stored;
      return rest;
    }
    case "workflow":
      return isObject(stored.spec) ? stored.spec : stored;
    default:
      return stored;
  }
}

// ---------------------------------------------------------------- workflows

/**
 * Workflow spec (POST /v1/workflows):
 *
 *   chain: {type:"chain", steps:[step, ...]}                   each step gets the previous result as input
 *   group: {type:"group", tasks:[step, ...]}                   all at once; the result lists every result
 *   chord: {type:"chord", tasks:[step, ...], callback: step}   a group, then the callback with all results
 *   step:  {kind, payload:{...the kind's own request fields...}, name?, queue?, retry?, time_limits?}
 *          or a nested chain/group/chord (at most 4 levels, 100 steps in all)
 *
 * Step kinds: train, predict, explain, pipeline, forecast, train_product,
 * train_all_products, maintenance. A step without a queue runs on the
 * workflow's. The status service's orchestrator runs WorkflowJob.steps (each a
 * Job); WorkflowJob.spec keeps the normalized spec for display.
 */
const stepOptions = z.object({ name: nameSchema.optional(), ...jobOptionsShape });
/** The keys of a workflow spec, and those a step may add (its kind and payload, or a nested spec, and its options). */
export const WORKFLOW_KEYS: ReadonlySet<string> = new Set(["type", "steps", "tasks", "callback"]);
const STEP_KEYS: ReadonlySet<string> = new Set([...WORKFLOW_KEYS, "kind", "payload", "name", "queue", "retry", "time_limits"]);
const MAX_DEPTH = 4;
const MAX_STEPS = 100;

export function validateWorkflow(spec: unknown, maxInstances: number): WorkflowJob {
  return checkWorkflow(spec, [], 1, { steps: 0 }, maxInstances).value;
}

function checkWorkflow(v: unknown, path: Path, depth: number, counter: { steps: number }, maxInstances: number): { spec: Record<string, unknown>; value: WorkflowJob } {
  if (!isObject(v)) fail(path, "must be a workflow object");
  if (depth > MAX_DEPTH) fail(path, `workflows nest at most ${MAX_DEPTH} levels`);
  const type = v.type;
  const listKey = type === "chain" ? "steps" : type === "group" || type === "chord" ? "tasks" : undefined;
  if (!listKey) fail([...path, "type"], "must be one of chain, group, chord");
  const list = v[listKey];
  const otherKey = listKey === "steps" ? "tasks" : "steps";
  // Celery's chain takes steps and its group/chord take tasks; the wrong one is an easy slip.
  if (list === undefined && v[otherKey] !== undefined) fail([...path, listKey], `a ${type} lists its steps in '${listKey}', not '${otherKey}'`);
  if (!Array.isArray(list) || list.length === 0) fail([...path, listKey], "must be a non-empty array of steps");
  const steps = list.map((s, i) => checkStep(s, [...path, listKey, i], depth, counter, maxInstances));
  const spec: Record<string, unknown> = { type, [listKey]: steps.map((s) => s.spec) };
  let callback: Job | undefined;
  if (type === "chord") {
    if (v.callback === undefined) fail([...path, "callback"], "a chord needs a callback step");
    const cb = checkStep(v.callback, [...path, "callback"], depth, counter, maxInstances);
    spec.callback = cb.spec;
    callback = cb.job;
  } else if (v.callback !== undefined) {
    fail([...path, "callback"], "only a chord has a callback");
  }
  return { spec, value: { spec, type: type as string, steps: steps.map((s) => s.job), callback, settleAll: false } };
}

function stepJob(kind: string, payload: Job["payload"], opts: JobOptionsInput & { name?: string }): Job {
  const o = jobOptions(opts);
  return Job.fromPartial({
    kind,
    // Empty: the orchestrator runs the step on the workflow's queue.
    queue: opts.queue ?? "",
    retry: o.retry,
    timeLimits: o.timeLimits,
    name: opts.name ?? "",
    payload,
  });
}

function checkStep(v: unknown, path: Path, depth: number, counter: { steps: number }, maxInstances: number): { spec: Record<string, unknown>; job: Job } {
  if (!isObject(v)) fail(path, "must be a step object {kind, payload} or a nested workflow");
  // A step is queued when its turn comes, so a deadline counted from the submit would expire later steps by design.
  if (v.start_within_ms !== undefined) fail([...path, "start_within_ms"], "applies to the whole workflow (set it at the top level), not to one step");
  rejectUnknownKeys(v, STEP_KEYS, path);
  const opts = compact(parseWith(stepOptions, shapeFields(v, stepOptions.shape), path));
  if (v.type !== undefined) {
    const nested = checkWorkflow(v, path, depth + 1, counter, maxInstances);
    return { spec: { ...nested.spec, ...opts }, job: stepJob("workflow", { $case: "workflow", value: nested.value }, opts) };
  }
  if (++counter.steps > MAX_STEPS) fail(path, `a workflow has at most ${MAX_STEPS} steps`);
  const kind = v.kind;
  if (typeof kind !== "string" || kind === "workflow" || !STEP_KINDS.includes(kind)) {
    fail([...path, "kind"], `must be one of ${STEP_KINDS.filter((k) => k !== "workflow").join(", ")} (nest a workflow with type)`);
  }
  const { fields, payload } = kindPayload(kind, v.payload, [...path, "payload"], maxInstances);
  return { spec: { kind, payload: fields, ...opts }, job: stepJob(kind, payload, opts) };
}
