// Pipeline validation against a schema only (no data), so the gateway can
// answer 400 before anything is queued. The runner calls the same code with
// the real frame's schema and, once the data decided it, the task.

import { checkParams, modelTypeInfo, nodeTypeInfo, NODE_TYPES, type ModelType, type NodeType } from "./catalogue";
import { PipelineValidationError } from "./errors";
import type { ColumnSchema, ColumnType } from "./frame";
import { schemaType } from "./nodes/columns";
import { PREPROCESSING_NODES } from "./nodes/registry";
import { checkColumnTypes } from "./nodes/source";
import type { SchemaState, Task } from "./nodes/types";

export interface PipelineNode {
  node_type: string;
  input?: Record<string, unknown>;
}

export interface PipelineSpec {
  pipeline_name: string;
  pipeline: PipelineNode[];
}

export interface PlannedNode {
  /** Position in spec.pipeline. */
  index: number;
  node_type: NodeType;
  /** Params with defaults filled in. */
  params: Record<string, unknown>;
}

export interface ModelPlan extends PlannedNode {
  type: ModelType;
  target: string;
  features?: string[];
  /** Model hyperparameters with defaults filled in. */
  modelParams: Record<string, unknown>;
}

export interface PipelinePlan {
  pipeline_name: string;
  source?: PlannedNode;
  /** Preprocessing nodes in order. */
  steps: PlannedNode[];
  split?: PlannedNode;
  model: ModelPlan;
  target: string;
  /** null when the data decides (integer target, no explicit task). */
  task: Task | null;
  /** Columns reaching the model; one-hot families appear as `prefix*`. */
  output_schema: ColumnSchema[];
  warnings: string[];
}

const FEATURE_TYPES: readonly ColumnType[] = ["number", "integer", "boolean", "date"];
const MAX_NODES = 100;

/** Task implied by the model type, the explicit task, or the target's type. */
function resolveTask(type: ModelType, explicit: Task | undefined, targetType: ColumnType, decided: Task | undefined): Task | null {
  if (type === "linear_regression") return "regression";
  if (type === "logistic_regression") return "classification";
  if (explicit) return explicit;
  if (decided) return decided;
  if (targetType === "number") return "regression";
  if (targetType === "integer") return null;
  return "classification";
}

/**
 * Validates a pipeline spec against the input columns. Throws
 * PipelineValidationError (with `field`, e.g. `pipeline[3].input.columns[1]`)
 * on the first problem; returns the normalised plan otherwise.
 */
export function validatePipeline(spec: unknown, schema: ColumnSchema[], opts: { task?: Task } = {}): PipelinePlan {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) throw new PipelineValidationError("must be an object", "spec");
  const s = spec as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (key !== "pipeline_name" && key !== "pipeline") throw new PipelineValidationError("unknown field (expected pipeline_name, pipeline)", key);
  }
  if (typeof s.pipeline_name !== "string" || s.pipeline_name.trim() === "") throw new PipelineValidationError("must be a non-empty string", "pipeline_name");
  if (s.pipeline_name.length > 200) throw new PipelineValidationError("must be at most 200 characters", "pipeline_name");
  if (!Array.isArray(s.pipeline) || s.pipeline.length === 0) throw new PipelineValidationError("must be a non-empty array of nodes", "pipeline");
  if (s.pipeline.length > MAX_NODES) throw new PipelineValidationError(`at most ${MAX_NODES} nodes`, "pipeline");
  const nodes = s.pipeline as unknown[];

  // Shape and params of every node first.
  const planned: PlannedNode[] = nodes.map((raw, i) => {
    const at = `pipeline[${i}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new PipelineValidationError("must be an object with node_type and input", at);
    const n = raw as Record<string, unknown>;
    for (const key of Object.keys(n)) if (key !== "node_type" && key !== "input") throw new PipelineValidationError("unknown field (expected node_type, input)", `${at}.${key}`);
    if (typeof n.node_type !== "string") throw new PipelineValidationError("must be a string", `${at}.node_type`);
    const info = nodeTypeInfo(n.node_type);
    if (!info) {
      throw new PipelineValidationError(`unknown node type '${n.node_type}' (expected one of: ${NODE_TYPES.map((t) => t.node_type).join(", ")})`, `${at}.node_type`);
    }
    return { index: i, node_type: info.node_type, params: checkParams(n.input, info.params, `${at}.input`) };
  });

  // Structure.
  const last = planned.length - 1;
  let source: PlannedNode | undefined, split: PlannedNode | undefined, modelNode: PlannedNode | undefined;
  const steps: PlannedNode[] = [];
  for (const p of planned) {
    const at = `pipeline[${p.index}].node_type`;
    if (p.node_type === "dataset" || p.node_type === "upload_file") {
      if (p.index !== 0) throw new PipelineValidationError(`${p.node_type} must be the first node`, at);
      source = p;
    } else if (p.node_type === "model") {
      if (p.index !== last) throw new PipelineValidationError(`model must be the last node (found at position ${p.index} of ${planned.length})`, at);
      modelNode = p;
    } else if (p.node_type === "split") {
      if (split) throw new PipelineValidationError(`only one split node is allowed (another at pipeline[${split.index}])`, at);
      split = p;
    } else {
      steps.push(p);
    }
  }
  if (!modelNode) throw new PipelineValidationError("the last node must be a model node", `pipeline[${last}].node_type`);

  // Model params and task.
  const mAt = `pipeline[${modelNode.index}].input`;
  const mp = modelNode.params;
  const type = mp.type as ModelType;
  const mInfo = modelTypeInfo(type)!;
  const explicitTask = mp.task as Task | undefined;
  if (explicitTask && !mInfo.tasks.includes(explicitTask)) {
    throw new PipelineValidationError(`${type} does not support task '${explicitTask}' (supports: ${mInfo.tasks.join(", ")})`, `${mAt}.task`);
  }
  const modelParams = checkParams(mp.params, mInfo.params, `${mAt}.params`);

  // Schema walk.
  const inputTypes = source ? checkColumnTypes(source.params.column_types, schema, `pipeline[0].input.column_types`) : undefined;
  const columns = new Map<string, ColumnType>(schema.map((c) => [c.name, inputTypes?.[c.name] ?? c.type]));
  const target = mp.target as string;
  const targetType = columns.get(target);
  if (!targetType) throw new PipelineValidationError(`target column '${target}' does not exist (columns: ${[...columns.keys()].slice(0, 20).join(", ")})`, `${mAt}.target`);
  const task = resolveTask(type, explicitTask, targetType, opts.task);
  if (task === "regression" && targetType !== "number" && targetType !== "integer") {
    throw new PipelineValidationError(`target '${target}' is ${targetType}; regression needs a numeric target`, `${mAt}.target`);
  }
  if (targetType === "date") throw new PipelineValidationError(`target '${target}' is a date; use a number or a category`, `${mAt}.target`);
  checkModelParams(type, task, modelParams, `${mAt}.params`);

  const state: SchemaState = { columns, wildcards: new Map(), target, task };
  if (split) {
    const at = `pipeline[${split.index}].input`;
    if (split.params.stratify === true && task === "regression") {
      throw new PipelineValidationError("stratify needs a classification task", `${at}.stratify`);
    }
  }
  for (const step of steps) {
    PREPROCESSING_NODES[step.node_type].validate(step.params, state, `pipeline[${step.index}].input`);
  }

  // Features reaching the model.
  const warnings: string[] = [];
  const features = mp.features as string[] | undefined;
  if (features) {
    features.forEach((name, i) => {
      const field = `${mAt}.features[${i}]`;
      if (name === target) throw new PipelineValidationError(`'${name}' is the target column`, field);
      const t = schemaType(state, name);
      if (!t) throw new PipelineValidationError(`column '${name}' does not exist at the model`, field);
      if (!FEATURE_TYPES.includes(t)) throw new PipelineValidationError(`column '${name}' is ${t}; encode it before the model`, field);
    });
  } else {
    for (const [name, t] of columns) {
      if (name !== target && !FEATURE_TYPES.includes(t)) warnings.push(`column '${name}' (${t}) is not encoded and will be ignored by the model`);
    }
    const usable = [...columns].some(([n, t]) => n !== target && FEATURE_TYPES.includes(t)) || [...state.wildcards.values()].some((t) => FEATURE_TYPES.includes(t));
    if (!usable) throw new PipelineValidationError("no usable feature columns reach the model (encode category columns or list features)", `pipeline[${modelNode.index}]`);
  }

  const output_schema: ColumnSchema[] = [...columns].filter(([n]) => n !== target).map(([name, t]) => ({ name, type: t }));
  for (const [prefix, t] of state.wildcards) output_schema.push({ name: `${prefix}*`, type: t });
  return {
    pipeline_name: s.pipeline_name,
    source,
    steps,
    split,
    model: { ...modelNode, type, target, features, modelParams },
    target,
    task,
    output_schema,
    warnings,
  };
}

function checkModelParams(type: ModelType, task: Task | null, p: Record<string, unknown>, at: string): void {
  const mf = p.max_features;
  if (typeof mf === "string" && !["sqrt", "log2", "all"].includes(mf)) {
    throw new PipelineValidationError(`must be 'sqrt', 'log2', 'all', a fraction in (0, 1] or an integer count (got '${mf}')`, `${at}.max_features`);
  }
  if (typeof mf === "number" && (!(mf > 0) || (mf > 1 && !Number.isInteger(mf)))) {
    throw new PipelineValidationError(`must be a fraction in (0, 1] or an integer count (got ${mf})`, `${at}.max_features`);
  }
  const crit = p.criterion as string | undefined;
  if (crit !== undefined && task) {
    const ok = task === "classification" ? ["gini", "entropy", "log_loss"] : ["squared_error"];
    if (!ok.includes(crit)) throw new PipelineValidationError(`criterion for ${task} must be one of: ${ok.join(", ")}`, `${at}.criterion`);
  }
  if (type === "neural_network") {
    const h = p.hidden_layers as number[];
    if (h.length > 8) throw new PipelineValidationError("at most 8 hidden layers", `${at}.hidden_layers`);
    h.forEach((u, i) => {
      if (u > 4096) throw new PipelineValidationError("at most 4096 units per layer", `${at}.hidden_layers[${i}]`);
    });
  }
  if (typeof p.seed === "number" && (p.seed < 0 || p.seed > 0xffffffff)) throw new PipelineValidationError("must be in [0, 2^32)", `${at}.seed`);
}
