import type { DatasetInfo, DatasetStore, Registry } from "@millrace/artifacts";
import { runNode, trainSpec, parseCsvToFrameInSlices, type TrainingPool, type PipelineProgress, type TrainResult } from "@millrace/ml";
import { DataError, ValidationError } from "@millrace/runtime";
import type { JobContext } from "@millrace/worker";

export interface TrainingDeps {
  datasets: DatasetStore;
  registry: Registry;
  pool: TrainingPool;
  /** After a cancel, how long the training thread may take before it is terminated. */
  abortGraceMs: number;
}

function progressOf(p: PipelineProgress) {
  return { percent: p.percent, message: p.message, currentNode: p.current_node, totalNodes: p.total_nodes, nodeType: p.node_type };
}

/** Result of a successful training, as users read it from /v1/tasks/{id}. */
function trainingResult(name: string, version: number, r: TrainResult) {
  return {
    model: { name, version },
    metrics: r.metrics,
    fit_ms: r.fit_ms,
    backend: r.backend,
    model_type: r.model_type,
    task: r.task,
    feature_names: r.feature_names,
    classes: r.classes,
    rows_train: r.rows_train,
    rows_test: r.rows_test,
    warnings: r.warnings,
  };
}

/** The dataset's stored column types (inferred or overridden at upload). */
function storedTypes(info: DatasetInfo): Record<string, string> {
  return Object.fromEntries(info.columns.map((c) => [c.name, c.type]));
}

/**
 * Types chosen at upload (`?types=`) hold in training too: the source node
 * gets them as column_types, under any the pipeline sets itself.
 */
function withStoredTypes<T extends { pipeline: NodeSpec[] }>(spec: T, info: DatasetInfo): T {
  const [first, ...rest] = spec.pipeline;
  if (!first || (first.node_type !== "dataset" && first.node_type !== "upload_file")) return spec;
  const given = (first.input?.column_types ?? {}) as Record<string, string>;
  return { ...spec, pipeline: [{ ...first, input: { ...first.input, column_types: { ...storedTypes(info), ...given } } }, ...rest] };
}

async function fitInThread(d: TrainingDeps, ctx: JobContext, spec: unknown, data: Uint8Array): Promise<TrainResult> {
  const hard = ctx.timeLimits.hardMs || undefined;
  // Progress callbacks arrive from the training thread; the event loop stays free.
  return d.pool.run(spec, data, {
    signal: ctx.signal,
    abortGraceMs: d.abortGraceMs,
    hardTimeoutMs: hard,
    onProgress: (p) => void ctx.progress(progressOf(p)).catch(() => undefined),
  });
}

/** POST /v1/train: one model on one dataset. */
export async function handleTrain(d: TrainingDeps, ctx: JobContext): Promise<unknown> {
  const p = ctx.job.payload;
  if (p?.$case !== "train") throw new ValidationError("train job without a train payload", { field: "payload" });
  const t = p.value;
  const info = await d.datasets.get(ctx.job.tenant, t.datasetId);
  await ctx.progress({ percent: 1, message: `loading dataset ${info.name}` });
  const data = await d.datasets.read(info);
  const spec = withStoredTypes(trainSpec(t.target, { type: (t.model?.type ?? "") as never, params: t.model?.params ?? {} }, { dataset_id: t.datasetId, pipeline_name: t.name, columns: info.columns }) as unknown as { pipeline: NodeSpec[] }, info);
  const r = await fitInThread(d, ctx, spec, data);
  const v = await d.registry.createVersion({
    tenant: ctx.job.tenant,
    name: t.name,
    modelType: r.model_type,
    target: r.target,
    datasetId: info.datasetId,
    datasetHash: info.sha256,
    pipeline: spec,
    params: t.model?.params ?? {},
    metrics: r.metrics,
    backend: r.backend,
    taskId: ctx.job.taskId,
    artifact: r.artifact,
  });
  ctx.logger.info({ model: t.name, version: v.version, fit_ms: r.fit_ms }, "model version created");
  return trainingResult(t.name, v.version, r);
}

interface NodeSpec {
  node_type: string;
  input?: Record<string, unknown>;
}

/** POST /v1/pipelines/run[-async] and /v1/nodes/run[-async]. */
export async function handlePipeline(d: TrainingDeps, ctx: JobContext): Promise<unknown> {
  const p = ctx.job.payload;
  if (p?.$case !== "pipeline") throw new ValidationError("pipeline job without a pipeline payload", { field: "payload" });
  const list = (Array.isArray(p.value.pipeline) ? p.value.pipeline : []) as NodeSpec[];
  const source = list.find((n) => n.node_type === "dataset" || n.node_type === "upload_file");
  const datasetId = String(source?.input?.dataset_id ?? "");
  if (!datasetId) throw new ValidationError("the pipeline needs a dataset node with input.dataset_id", { field: "pipeline[0].input.dataset_id" });
  const info = await d.datasets.get(ctx.job.tenant, datasetId);
  const data = await d.datasets.read(info);
  if (p.value.singleNode) {
    const node = list.find((n) => n !== source) ?? list[0];
    if (node.node_type === "model" && source) {
      // Training runs in the thread pool like any other (on this thread it held
      // the leases for as long as the fit took); the artifact is not kept.
      const r = await fitInThread(d, ctx, withStoredTypes({ pipeline_name: "single node", pipeline: [source, node] }, info), data);
      const { artifact: _artifact, ...training } = r;
      return { node_type: "model", rows_in: info.rows, columns_in: info.columns, summary: `trained ${r.model_type} (${r.task}) on ${r.rows_train} rows`, training };
    }
    const frame = await parseCsvToFrameInSlices(data, storedTypes(info) as never, { signal: ctx.signal });
    // The transformed frame itself stays here: the result carries its shape, a
    // preview and column stats (a whole dataset would not fit in a NATS message).
    const { frame: _frame, ...result } = await runNode(node as never, frame, { signal: ctx.signal });
    return result;
  }
  const spec = withStoredTypes({ pipeline_name: p.value.pipelineName, pipeline: list }, info);
  const r = await fitInThread(d, ctx, spec, data);
  const name = p.value.pipelineName.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[^A-Za-z0-9]+/, "").slice(0, 64) || "pipeline";
  if (!r.artifact?.length) throw new DataError("the pipeline produced no model");
  const v = await d.registry.createVersion({
    tenant: ctx.job.tenant,
    name,
    modelType: r.model_type,
    target: r.target,
    datasetId: info.datasetId,
    datasetHash: info.sha256,
    pipeline: spec,
    params: {},
    metrics: r.metrics,
    backend: r.backend,
    taskId: ctx.job.taskId,
    artifact: r.artifact,
  });
  return { ...trainingResult(name, v.version, r), pipeline_name: p.value.pipelineName, steps: r.steps };
}

