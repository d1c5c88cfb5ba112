// Runs a validated pipeline: split rows once, fit every node on the training
// rows (applying it to train and test), fit the model, evaluate, and pack the
// fitted steps + model into an artifact that loadModel replays on raw rows.

import { encodeArtifact } from "./artifact";
import { initBackend, type BackendName } from "./backend";
import type { ModelType } from "./catalogue";
import { checkParams, nodeTypeInfo } from "./catalogue";
import { parseCsvToFrame } from "./csv";
import { createCheckpoint } from "./cooperative";
import { DataError, PipelineValidationError, type AbortLike } from "./errors";
import { FEATURE_TYPES, toMatrix } from "./features";
import { describeFrame, frameHead, isNumericType, schemaOf, takeRows, type Cell, type ColumnSchema, type ColumnStats, type ColumnType, type DataFrame } from "./frame";
import { classificationMetrics, regressionMetrics, type Metrics } from "./metrics";
import { fitModel } from "./models/registry";
import type { FittedModel } from "./models/types";
import { compareCells } from "./nodes/columns";
import { PREPROCESSING_NODES } from "./nodes/registry";
import { castFrame, checkColumnTypes } from "./nodes/source";
import { splitRows } from "./nodes/split";
import type { ApplyContext, FitContext, FittedState, Label, SchemaState, Task } from "./nodes/types";
import { validatePipeline, type PipelineNode, type PipelinePlan, type PipelineSpec } from "./validate";

export const ML_VERSION = "0.1.0";
export const DEFAULT_SEED = 42;
/** An integer target with at most this many distinct values is treated as classes. */
export const MAX_INTEGER_CLASSES = 20;

export interface PipelineProgress {
  percent: number;
  /** 1-based position of the running node in spec.pipeline. */
  current_node: number;
  total_nodes: number;
  node_type: string;
  message: string;
}

export interface RunOptions {
  onProgress?: (p: PipelineProgress) => void;
  signal?: AbortLike;
  /** Seed for split, shuffles and initialisation (default 42). */
  seed?: number;
  /** tfjs backend preference, see initBackend. */
  backend?: BackendName[];
}

export interface StepSummary {
  index: number;
  node_type: string;
  summary: string;
}

export interface TrainResult {
  artifact: Uint8Array;
  model_type: ModelType;
  task: Task;
  metrics: Metrics;
  /** Wall time of the whole run (preprocessing + model + evaluation), ms. */
  fit_ms: number;
  /** tfjs backend for tfjs models ('tensorflow' | 'wasm' | 'cpu'), 'js' for tree models. */
  backend: string;
  /** Model input features, in order (names of transformed columns, e.g. `color=red`). */
  feature_names: string[];
  /** Class labels (booleans as 'true'/'false'), index-aligned with probabilities. */
  classes?: (string | number)[];
  rows_train: number;
  rows_test: number;
  /** Rows removed before training: missing target, plus drop_rows on training rows. */
  rows_dropped: number;
  pipeline_name: string;
  target: string;
  /** Raw columns prediction rows must provide (with types). */
  input_columns: ColumnSchema[];
  warnings: string[];
  train_info: Record<string, unknown>;
  steps: StepSummary[];
}

export interface FittedStep {
  index: number;
  node_type: string;
  state: FittedState;
}

/** What the artifact holds; loadModel replays it. */
export interface ArtifactBody {
  format: "millrace-ml";
  version: 1;
  ml_version: string;
  pipeline_name: string;
  target: string;
  task: Task;
  classes: Label[];
  inputs: ColumnSchema[];
  steps: FittedStep[];
  /** Every column produced along the way → the raw input column it came from. */
  sources: Record<string, string>;
  features: string[];
  model: { type: ModelType; params: Record<string, unknown>; state: Record<string, unknown> };
  metrics: Metrics;
  backend: string;
  seed: number;
  rows_train: number;
  rows_test: number;
}

const TFJS_MODELS: readonly ModelType[] = ["linear_regression", "logistic_regression", "neural_network"];

export function labelKey(v: Label): string {
  return String(v);
}

export function publicLabel(v: Label): string | number {
  return typeof v === "boolean" ? String(v) : v;
}

/** Loads the frame: parses CSV bytes/text (with the source node's column_types) or re-types a given frame. */
function resolveFrame(spec: unknown, data: DataFrame | Uint8Array | string): DataFrame {
  const first = (spec as PipelineSpec)?.pipeline?.[0];
  const isSource = first && (first.node_type === "dataset" || first.node_type === "upload_file");
  const rawTypes = isSource ? first.input?.column_types : undefined;
  if (typeof data === "string" || data instanceof Uint8Array) {
    const types = checkColumnTypes(rawTypes, null, "pipeline[0].input.column_types");
    return parseCsvToFrame(data, types);
  }
  if (!data || !Array.isArray(data.columns)) throw new DataError("data must be a DataFrame, CSV text or CSV bytes");
  const types = checkColumnTypes(rawTypes, schemaOf(data), "pipeline[0].input.column_types");
  return castFrame(data, types);
}

function decideTask(plan: PipelinePlan, frame: DataFrame): Task {
  if (plan.task) return plan.task;
  const col = frame.columns.find((c) => c.name === plan.target)!;
  const distinct = new Set<Cell>();
  for (const v of col.values) {
    if (v === null) continue;
    distinct.add(v);
    if (distinct.size > MAX_INTEGER_CLASSES) return "regression";
  }
  return "classification";
}

class ProgressReporter {
  private lastPercent = -1;
  private lastAt = 0;
  constructor(private readonly cb: RunOptions["onProgress"], private readonly total: number) {}

  emit(percent: number, index: number, nodeType: string, message: string, force = false): void {
    if (!this.cb) return;
    const p = Math.max(0, Math.min(100, Math.round(percent * 10) / 10));
    const now = performance.now();
    // Throttle sub-node updates; node boundaries always go out.
    if (!force && Math.floor(p) === Math.floor(this.lastPercent) && now - this.lastAt < 250) return;
    this.lastPercent = p;
    this.lastAt = now;
    this.cb({ percent: p, current_node: index + 1, total_nodes: this.total, node_type: nodeType, message });
  }
}

function lineage(initial: ColumnSchema[]) {
  const sources = new Map<string, Set<string>>(initial.map((c) => [c.name, new Set([c.name])]));
  return {
    sources,
    derive(state: FittedState) {
      for (const [out, from] of Object.entries(state.derived ?? {})) sources.set(out, new Set(sources.get(from) ?? [from]));
    },
    sourceOf: (c: string) => [...(sources.get(c) ?? [c])][0],
  };
}

/**
 * Validates and runs a pipeline on a frame (or CSV text/bytes, parsed with the
 * source node's column_types). Throws PipelineValidationError, CsvFormatError,
 * DataError or TrainingAbortedError.
 */
export async function runPipeline(spec: PipelineSpec | unknown, data: DataFrame | Uint8Array | string, opts: RunOptions = {}): Promise<TrainResult> {
  const started = performance.now();
  const seed = opts.seed ?? DEFAULT_SEED;
  const checkpoint = createCheckpoint(opts.signal);
  const nodes = (spec as PipelineSpec)?.pipeline;
  const progress = new ProgressReporter(opts.onProgress, Array.isArray(nodes) ? nodes.length : 0);

  let frame = resolveFrame(spec, data);
  // An all-missing target is a data problem, whatever type inference made of the empty column.
  const declared = (nodes as PipelineNode[] | undefined)?.at?.(-1)?.input?.target;
  const declaredCol = typeof declared === "string" ? frame.columns.find((c) => c.name === declared) : undefined;
  if (declaredCol && declaredCol.values.every((v) => v === null)) {
    throw new DataError(`target column '${declared}' has no values (all ${frame.nRows} rows are missing it)`);
  }
  let plan = validatePipeline(spec, schemaOf(frame));
  progress.emit(0, 0, plan.source?.node_type ?? (nodes[0]?.node_type ?? "model"), `loaded ${frame.nRows} rows × ${frame.columns.length} columns`, true);
  await checkpoint();

  // Rows without a target cannot train or be scored.
  const target = plan.target;
  const tcol = frame.columns.find((c) => c.name === target)!;
  const keep: number[] = [];
  for (let i = 0; i < frame.nRows; i++) if (tcol.values[i] !== null) keep.push(i);
  if (keep.length === 0) throw new DataError(`target column '${target}' has no values (all ${frame.nRows} rows are missing it)`);
  let rowsDropped = frame.nRows - keep.length;
  if (rowsDropped) frame = takeRows(frame, keep);

  const task = decideTask(plan, frame);
  if (!plan.task) plan = validatePipeline(spec, schemaOf(frame), { task });

  let classes: Label[] = [];
  if (task === "classification") {
    const seen = new Map<string, Label>();
    for (const v of frame.columns.find((c) => c.name === target)!.values) if (v !== null && !seen.has(labelKey(v))) seen.set(labelKey(v), v);
    classes = [...seen.values()].sort((a, b) => compareCells(a, b));
    if (classes.length < 2) throw new DataError(`target '${target}' has a single class (${JSON.stringify(classes[0])}); classification needs at least two`);
    if (classes.length > 1000) throw new DataError(`target '${target}' has ${classes.length} classes (max 1000); is it a regression target?`);
  }
  const classIndex = new Map(classes.map((c, i) => [labelKey(c), i]));

  // Split once, before fitting anything, so no node sees test rows.
  const sp = plan.split?.params ?? { test_size: 0 };
  const testSize = (sp.test_size as number | undefined) ?? 0.2;
  const stratify = (sp.stratify as boolean | undefined) ?? task === "classification";
  const strata = stratify && task === "classification"
    ? Int32Array.from(frame.columns.find((c) => c.name === target)!.values, (v) => classIndex.get(labelKey(v as Label))!)
    : undefined;
  const { train: trainIdx, test: testIdx } = splitRows(frame.nRows, plan.split ? testSize : 0, (sp.seed as number | undefined) ?? seed, strata);
  let train = takeRows(frame, trainIdx);
  let test = testIdx.length ? takeRows(frame, testIdx) : null;
  if (plan.split) {
    progress.emit(2, plan.split.index, "split", `split ${train.nRows} train / ${test?.nRows ?? 0} test rows${strata ? " (stratified)" : ""}`, true);
  }

  const inputSchema = schemaOf(frame).filter((c) => c.name !== target);
  const lin = lineage(inputSchema);
  const fitted: FittedStep[] = [];
  const summaries: StepSummary[] = [];
  const preShare = 20 / Math.max(1, plan.steps.length);
  for (const [k, step] of plan.steps.entries()) {
    await checkpoint();
    const impl = PREPROCESSING_NODES[step.node_type];
    progress.emit(2 + k * preShare, step.index, step.node_type, `fitting ${step.node_type}`, true);
    const ctx: FitContext = { target, task, classes, seed, signal: opts.signal, index: step.index };
    let state: FittedState;
    try {
      state = await impl.fit(train, step.params, ctx);
    } catch (err) {
      throw atNode(err, step.index, step.node_type);
    }
    lin.derive(state);
    const actx: ApplyContext = { mode: "fit", sourceOf: lin.sourceOf };
    const before = train.nRows;
    train = impl.apply(train, state, actx);
    if (test) test = impl.apply(test, state, actx);
    rowsDropped += before - train.nRows;
    if (train.nRows === 0) throw new DataError(`no training rows left after pipeline[${step.index}] (${step.node_type})`);
    fitted.push({ index: step.index, node_type: step.node_type, state });
    const summary = impl.describe?.(state) ?? step.node_type;
    summaries.push({ index: step.index, node_type: step.node_type, summary });
    progress.emit(2 + (k + 1) * preShare, step.index, step.node_type, summary, true);
  }
  await checkpoint();

  // Model inputs.
  const m = plan.model;
  const warnings = [...plan.warnings];
  let features: string[];
  if (m.features) {
    features = m.features;
    for (const f of features) if (!train.columns.some((c) => c.name === f)) throw new DataError(`feature '${f}' is not in the data at the model (was it dropped by select_features?)`);
  } else {
    features = [];
    for (const c of train.columns) {
      if (c.name === target) continue;
      if (FEATURE_TYPES.includes(c.type)) features.push(c.name);
      else if (!warnings.some((w) => w.includes(`'${c.name}'`))) warnings.push(`column '${c.name}' (${c.type}) is not encoded and was ignored by the model`);
    }
  }
  if (features.length === 0) throw new DataError("no usable feature columns reach the model");
  const toY = (f: DataFrame): Float64Array => {
    const vals = f.columns.find((c) => c.name === target)!.values;
    return Float64Array.from(vals, (v) => (task === "classification" ? classIndex.get(labelKey(v as Label))! : (v as number)));
  };
  const Xtr = toMatrix(train, features, "fit", lin.sourceOf);
  const ytr = toY(train);
  const trainSet = { X: Xtr, nRows: train.nRows, nFeatures: features.length, y: ytr, nClasses: classes.length, featureNames: features };

  let backend = "js";
  if (TFJS_MODELS.includes(m.type) || plan.steps.some((s) => s.node_type === "select_features" && s.params.method === "rfe")) {
    backend = (await initBackend(opts.backend, { log: () => {} })).backend;
  }
  progress.emit(22, m.index, "model", `training ${m.type} on ${train.nRows} rows × ${features.length} features`, true);
  const modelStart = performance.now();
  let model: FittedModel;
  try {
    model = await fitModel(m.type, trainSet, m.modelParams, {
      task,
      seed,
      signal: opts.signal,
      onProgress: (f, msg) => progress.emit(22 + 73 * f, m.index, "model", msg),
    });
  } catch (err) {
    throw atNode(err, m.index, "model");
  }
  const modelMs = performance.now() - modelStart;
  await checkpoint();

  // Evaluate through the same predict path serving uses.
  const evalFrame = test && test.nRows > 0 ? test : train;
  const evaluatedOn = evalFrame === train ? "train" : "test";
  const Xev = evalFrame === train ? Xtr : toMatrix(evalFrame, features, "fit", lin.sourceOf);
  const yev = evalFrame === train ? ytr : toY(evalFrame);
  const out = model.predict(Xev, evalFrame.nRows);
  const metrics: Metrics = task === "classification"
    ? classificationMetrics(Int32Array.from(yev), out, classes.map(labelKey), evaluatedOn)
    : regressionMetrics(yev, out, evaluatedOn);
  progress.emit(97, m.index, "model", `evaluated on ${evaluatedOn} rows (${evalFrame.nRows})`, true);

  // Raw columns that feed the features: all prediction needs.
  const needed = new Set<string>();
  for (const f of features) for (const s of lin.sources.get(f) ?? [f]) needed.add(s);
  const inputs = inputSchema.filter((c) => needed.has(c.name));
  const sources: Record<string, string> = {};
  for (const [col] of lin.sources) sources[col] = lin.sourceOf(col);

  const body: ArtifactBody = {
    format: "millrace-ml",
    version: 1,
    ml_version: ML_VERSION,
    pipeline_name: plan.pipeline_name,
    target,
    task,
    classes,
    inputs,
    steps: fitted,
    sources,
    features,
    model: { type: m.type, params: m.modelParams, state: model.state() },
    metrics,
    backend,
    seed,
    rows_train: train.nRows,
    rows_test: evaluatedOn === "test" ? evalFrame.nRows : 0,
  };
  const artifact = encodeArtifact(body);
  const result: TrainResult = {
    artifact,
    model_type: m.type,
    task,
    metrics,
    fit_ms: Math.round(performance.now() - started),
    backend,
    feature_names: features,
    ...(task === "classification" ? { classes: classes.map(publicLabel) } : {}),
    rows_train: train.nRows,
    rows_test: body.rows_test,
    rows_dropped: rowsDropped,
    pipeline_name: plan.pipeline_name,
    target,
    input_columns: inputs,
    warnings,
    train_info: { ...(model.trainInfo ?? {}), model_fit_ms: Math.round(modelMs) },
    steps: summaries,
  };
  progress.emit(100, m.index, "model", "done", true);
  return result;
}

/** Adds the failing node's position to data errors raised while fitting it. */
function atNode(err: unknown, index: number, nodeType: string): unknown {
  if (err instanceof DataError && !err.message.startsWith("pipeline[")) {
    return new DataError(`pipeline[${index}] (${nodeType}): ${err.message}`, { cause: err, field: `pipeline[${index}]`, details: err.details });
  }
  return err;
}

export interface TrainModelSpec {
  type: ModelType;
  params?: Record<string, unknown>;
  task?: Task;
}

/**
 * The pipeline behind `POST /v1/train {dataset_id, target, model}`: impute
 * (mean for numeric, most_frequent for the rest), standard-scale numeric
 * columns for linear models and networks, one-hot category columns, split
 * 0.2 with seed 42 (stratified for classification), then the model.
 */
export function trainSpec(
  target: string,
  model: TrainModelSpec,
  opts: { dataset_id?: string; pipeline_name?: string; columns?: readonly { name: string; type: string }[] } = {},
): PipelineSpec {
  const scaled = model.type === "linear_regression" || model.type === "logistic_regression" || model.type === "neural_network";
  const pipeline: PipelineNode[] = [];
  if (opts.dataset_id) pipeline.push({ node_type: "dataset", input: { dataset_id: opts.dataset_id } });
  if (opts.columns) {
    // The source's columns are known (the trainer has the dataset's): each
    // imputer is given its own. Left to its default, most_frequent would also
    // count the values of every numeric column, whose gaps the mean has
    // already filled: about 0.6 s and a map of every distinct value per
    // million rows of each, for fills never used.
    const numeric: string[] = [];
    const rest: string[] = [];
    for (const c of opts.columns) if (c.name !== target) (isNumericType(c.type as ColumnType) ? numeric : rest).push(c.name);
    if (numeric.length) pipeline.push({ node_type: "missing_values", input: { strategy: "mean", columns: numeric } });
    if (rest.length) pipeline.push({ node_type: "missing_values", input: { strategy: "most_frequent", columns: rest } });
  } else {
    pipeline.push({ node_type: "missing_values", input: { strategy: "mean" } });
    pipeline.push({ node_type: "missing_values", input: { strategy: "most_frequent" } });
  }
  if (scaled) pipeline.push({ node_type: "scale", input: { method: "standard" } });
  pipeline.push({ node_type: "encode", input: { method: "one_hot" } });
  // Stratification defaults on for classification and off for regression.
  pipeline.push({ node_type: "split", input: { test_size: 0.2, seed: DEFAULT_SEED } });
  pipeline.push({
    node_type: "model",
    input: { type: model.type, target, ...(model.task ? { task: model.task } : {}), ...(model.params ? { params: model.params } : {}) },
  });
  return { pipeline_name: opts.pipeline_name ?? `train ${model.type} → ${target}`, pipeline };
}

export interface NodeRunOptions {
  /** Target column: needed by target encoding, feature selection and split stratification. */
  target?: string;
  task?: Task;
  seed?: number;
  signal?: AbortLike;
  onProgress?: (p: PipelineProgress) => void;
  /** Rows in `preview` (default 10). */
  previewRows?: number;
}

export interface NodeRunResult {
  node_type: string;
  rows_in: number;
  rows_out: number;
  columns_in: ColumnSchema[];
  columns_out: ColumnSchema[];
  /** Transformed frame (for chaining single-node runs). */
  frame: DataFrame;
  preview: Record<string, Cell>[];
  stats: ColumnStats[];
  summary: string;
  /** Fitted state of a preprocessing node (means, categories, λ, scores, …). */
  state?: FittedState;
  /** split: row counts per partition. */
  split?: { rows_train: number; rows_test: number };
  /** model: the full training result (metrics on the training rows). */
  training?: TrainResult;
}

/** Runs one node on a frame: fit + transform for preprocessing, a partition for split, a fit for model. */
export async function runNode(node: PipelineNode, frame: DataFrame, opts: NodeRunOptions = {}): Promise<NodeRunResult> {
  const previewRows = opts.previewRows ?? 10;
  const info = typeof node?.node_type === "string" ? nodeTypeInfo(node.node_type) : undefined;
  if (!info) throw new PipelineValidationError(`unknown node type '${String(node?.node_type)}'`, "node_type");
  const params = checkParams(node.input, info.params, "input");
  const base = { node_type: info.node_type, rows_in: frame.nRows, columns_in: schemaOf(frame) };
  const done = (out: DataFrame, summary: string, extra: Partial<NodeRunResult> = {}): NodeRunResult => ({
    ...base,
    rows_out: out.nRows,
    columns_out: schemaOf(out),
    frame: out,
    preview: frameHead(out, previewRows),
    stats: describeFrame(out),
    summary,
    ...extra,
  });

  if (info.node_type === "model") {
    const training = await runPipeline({ pipeline_name: "single node", pipeline: [node] }, frame, { seed: opts.seed, signal: opts.signal, onProgress: opts.onProgress });
    return done(frame, `trained ${training.model_type} (${training.task}) on ${training.rows_train} rows`, { training });
  }
  if (info.node_type === "dataset" || info.node_type === "upload_file") {
    const types = checkColumnTypes(params.column_types, schemaOf(frame), "input.column_types");
    const out = castFrame(frame, types);
    return done(out, `${out.nRows} rows × ${out.columns.length} columns`);
  }

  const target = opts.target;
  const tcol = target ? frame.columns.find((c) => c.name === target) : undefined;
  if (target && !tcol) throw new PipelineValidationError(`target column '${target}' does not exist`, "target");
  const needsTarget = info.node_type === "select_features" || (info.node_type === "encode" && params.method === "target");
  if (needsTarget && !tcol) throw new PipelineValidationError(`${info.node_type} needs a target column`, "target");
  let task: Task | null = opts.task ?? null;
  if (!task && tcol) task = tcol.type === "number" ? "regression" : tcol.type === "integer" ? (new Set(tcol.values).size <= MAX_INTEGER_CLASSES ? "classification" : "regression") : "classification";
  let classes: Label[] = [];
  let work = frame;
  if (tcol) {
    const keep: number[] = [];
    tcol.values.forEach((v, i) => v !== null && keep.push(i));
    if (keep.length !== frame.nRows && needsTarget) work = takeRows(frame, keep);
    if (task === "classification") {
      const seen = new Map<string, Label>();
      for (const v of tcol.values) if (v !== null) seen.set(labelKey(v), v);
      classes = [...seen.values()].sort((a, b) => compareCells(a, b));
    }
  }

  if (info.node_type === "split") {
    const stratify = (params.stratify as boolean | undefined) ?? task === "classification";
    const idx = new Map(classes.map((c, i) => [labelKey(c), i]));
    const strata = stratify && tcol && task === "classification" ? Int32Array.from(tcol.values, (v) => (v === null ? -1 : idx.get(labelKey(v))!)) : undefined;
    const { train, test } = splitRows(frame.nRows, params.test_size as number, (params.seed as number | undefined) ?? opts.seed ?? DEFAULT_SEED, strata);
    return done(takeRows(frame, train), `${train.length} train / ${test.length} test rows`, { split: { rows_train: train.length, rows_test: test.length } });
  }

  const impl = PREPROCESSING_NODES[info.node_type];
  const schema: SchemaState = { columns: new Map(schemaOf(work).map((c) => [c.name, c.type])), wildcards: new Map(), target: target ?? "", task };
  impl.validate(params, schema, "input");
  const state = await impl.fit(work, params, { target: target ?? "", task: task ?? "regression", classes, seed: opts.seed ?? DEFAULT_SEED, signal: opts.signal, index: 0 });
  const out = impl.apply(work, state, { mode: "fit", sourceOf: (c) => c });
  return done(out, impl.describe?.(state) ?? info.node_type, { state });
}
