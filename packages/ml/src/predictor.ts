// Serving: an artifact becomes a LoadedModel that validates raw request rows,
// replays the fitted pipeline steps and runs the model, synchronously.

import { decodeArtifact } from "./artifact";
import type { ModelType } from "./catalogue";
import { ArtifactError, RowValidationError } from "./errors";
import { rowsToFrame, toMatrix } from "./features";
import type { ColumnSchema } from "./frame";
import type { Metrics } from "./metrics";
import { argmaxRows } from "./metrics";
import { loadFittedModel } from "./models/registry";
import type { Explanation, FittedModel, OutputSpace } from "./models/types";
import { PREPROCESSING_NODES } from "./nodes/registry";
import { inputWarnings, type InputWarning } from "./input-check";
import { forEachTimeSlice } from "./time-slices";
import type { ApplyContext, Task } from "./nodes/types";
import { labelKey, publicLabel, type ArtifactBody } from "./pipeline";

export interface PredictOutput {
  /** Regression values, or the most probable class label per row. */
  predictions: (number | string)[];
  /** Classification: per row, probability per class label. */
  probabilities?: Record<string, number>[];
}

export interface RowExplanation {
  /** Expected model output (over the training data / reference point). */
  base_value: number;
  /** Per model input feature (transformed names, e.g. `color=red`); base_value + Σ = output. */
  contributions: Record<string, number>;
  /** Predicted label (classification) or value (regression). */
  prediction: number | string;
  /** The number being decomposed. */
  output: number;
  /** value (regression), log_odds / logit (logistic), probability (trees, network classifiers). */
  output_space: OutputSpace;
  /** Classification: the class whose output is explained (the predicted one). */
  class?: string;
}

export interface ModelInfo {
  model_type: ModelType;
  task: Task;
  target: string;
  /** Model input features (after preprocessing). */
  features: string[];
  /** Raw columns a request row must carry (missing ones are allowed only where the pipeline imputes them). */
  inputs: ColumnSchema[];
  classes?: (string | number)[];
  /** tfjs backend used for training ('js' for tree models). Prediction is plain JavaScript (float64). */
  backend: string;
  pipeline_name: string;
  metrics: Metrics;
  ml_version: string;
  rows_train: number;
  rows_test: number;
}

export interface LoadedModel {
  /** Artifact size in bytes. */
  readonly bytes: number;
  readonly info: ModelInfo;
  predict(rows: Record<string, unknown>[]): PredictOutput;
  explain(rows: Record<string, unknown>[]): RowExplanation[];
  /**
   * The same explanations, computed a slice of rows at a time with the event
   * loop free in between (TreeSHAP on 10,000 rows takes seconds: done in one
   * go it would stall the process's leases, health checks and other calls).
   * Every row is validated before any work starts.
   */
  explainInSlices(rows: Record<string, unknown>[], opts?: ExplainOptions): Promise<RowExplanation[]>;
  /** Input columns no row carries and columns the model ignores (see input-check.ts); empty when the rows are as trained. */
  inputWarnings(rows: readonly Record<string, unknown>[]): InputWarning[];
}

export interface ExplainOptions {
  /** Checked between slices: once aborted, the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Longest stretch of work between yields to the event loop, in ms (default 20; 0 = a row per slice). */
  sliceMs?: number;
  /** Called after each slice with the rows explained so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

class Loaded implements LoadedModel {
  readonly bytes: number;
  readonly info: ModelInfo;
  private readonly model: FittedModel;
  private readonly labels: string[];
  private readonly publicLabels: (string | number)[];
  private readonly actx: ApplyContext;

  constructor(private readonly a: ArtifactBody, bytes: number) {
    this.bytes = bytes;
    this.model = loadFittedModel(a.model.type, a.model.state);
    if (this.model.nFeatures !== a.features.length) throw new ArtifactError(`model expects ${this.model.nFeatures} features, artifact lists ${a.features.length}`);
    for (const s of a.steps) if (!PREPROCESSING_NODES[s.node_type]) throw new ArtifactError(`unknown pipeline step '${s.node_type}' in artifact`);
    this.labels = a.classes.map(labelKey);
    this.publicLabels = a.classes.map(publicLabel);
    this.actx = { mode: "predict", sourceOf: (c) => a.sources[c] ?? c };
    this.info = {
      model_type: a.model.type,
      task: a.task,
      target: a.target,
      features: a.features,
      inputs: a.inputs,
      ...(a.task === "classification" ? { classes: this.publicLabels } : {}),
      backend: a.backend,
      pipeline_name: a.pipeline_name,
      metrics: a.metrics,
      ml_version: a.ml_version,
      rows_train: a.rows_train,
      rows_test: a.rows_test,
    };
  }

  inputWarnings(rows: readonly Record<string, unknown>[]): InputWarning[] {
    return inputWarnings(rows, this.a.inputs, this.a.target);
  }

  /** Raw rows → model input matrix, replaying every fitted step in predict mode. */
  private matrix(rows: Record<string, unknown>[]): { X: Float64Array; n: number } {
    let frame = rowsToFrame(rows, this.a.inputs);
    for (const step of this.a.steps) frame = PREPROCESSING_NODES[step.node_type].apply(frame, step.state, this.actx);
    if (frame.nRows !== rows.length) throw new RowValidationError("pipeline changed the row count at prediction", 0, "*");
    return { X: toMatrix(frame, this.a.features, "predict", this.actx.sourceOf), n: frame.nRows };
  }

  predict(rows: Record<string, unknown>[]): PredictOutput {
    const { X, n } = this.matrix(rows);
    const out = this.model.predict(X, n);
    if (this.a.task === "regression") return { predictions: Array.from(out) };
    const K = this.labels.length;
    const best = argmaxRows(out, n, K);
    const predictions = new Array<number | string>(n);
    const probabilities = new Array<Record<string, number>>(n);
    for (let i = 0; i < n; i++) {
      predictions[i] = this.publicLabels[best[i]];
      const p: Record<string, number> = {};
      for (let c = 0; c < K; c++) p[this.labels[c]] = out[i * K + c];
      probabilities[i] = p;
    }
    return { predictions, probabilities };
  }

  explain(rows: Record<string, unknown>[]): RowExplanation[] {
    const { X, n, out, best } = this.toExplain(rows);
    return this.explanations(this.model.explain(X, n, best), out, best, n);
  }

  async explainInSlices(rows: Record<string, unknown>[], opts: ExplainOptions = {}): Promise<RowExplanation[]> {
    const { X, n, out, best } = this.toExplain(rows);
    const p = this.a.features.length;
    const e: Explanation = { base: new Float64Array(n), phi: new Float64Array(n * p), output: new Float64Array(n), space: "value" };
    await forEachTimeSlice(
      n,
      (start, end) => {
        const part = this.model.explain(X.subarray(start * p, end * p), end - start, best?.subarray(start, end));
        e.base.set(part.base, start);
        e.phi.set(part.phi, start * p);
        e.output.set(part.output, start);
        e.space = part.space;
        opts.onProgress?.(end, n);
      },
      { sliceMs: opts.sliceMs ?? 20, signal: opts.signal },
    );
    return this.explanations(e, out, best, n);
  }

  /** The rows as a matrix, the model's output for them, and for a classifier the class each row is explained for. */
  private toExplain(rows: Record<string, unknown>[]): { X: Float64Array; n: number; out: Float64Array; best: Int32Array | undefined } {
    const { X, n } = this.matrix(rows);
    const out = this.model.predict(X, n);
    const best = this.a.task === "classification" ? argmaxRows(out, n, this.labels.length) : undefined;
    return { X, n, out, best };
  }

  private explanations(e: Explanation, out: Float64Array, best: Int32Array | undefined, n: number): RowExplanation[] {
    const classification = best !== undefined;
    const p = this.a.features.length;
    const result: RowExplanation[] = [];
    for (let i = 0; i < n; i++) {
      const contributions: Record<string, number> = {};
      for (let j = 0; j < p; j++) contributions[this.a.features[j]] = e.phi[i * p + j];
      result.push({
        base_value: e.base[i],
        contributions,
        prediction: classification ? this.publicLabels[best![i]] : out[i],
        output: e.output[i],
        output_space: e.space,
        ...(classification ? { class: this.labels[best![i]] } : {}),
      });
    }
    return result;
  }
}

/** Decodes an artifact from runPipeline into a model ready to serve. Throws ArtifactError when unreadable. */
export function loadModel(artifact: Uint8Array): LoadedModel {
  const body = decodeArtifact<ArtifactBody>(artifact);
  if (body?.format !== "millrace-ml" || body.version !== 1) throw new ArtifactError("artifact is not a millrace-ml v1 model");
  return new Loaded(body, artifact.byteLength);
}
