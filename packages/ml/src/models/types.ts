// Fitted-model contract. Every model predicts from a row-major Float64Array so
// training-time evaluation and serving share one code path.

import type { ModelType } from "../catalogue";
import type { AbortLike } from "../errors";
import type { Task } from "../nodes/types";

export interface TrainingSet {
  /** Row-major nRows × nFeatures. */
  X: Float64Array;
  nRows: number;
  nFeatures: number;
  /** Regression target, or class index 0..nClasses-1. */
  y: Float64Array;
  /** 0 for regression. */
  nClasses: number;
  featureNames: string[];
}

export interface ModelFitContext {
  task: Task;
  seed: number;
  signal?: AbortLike;
  /** fraction in [0, 1] of the model fit. */
  onProgress?: (fraction: number, message: string) => void;
}

/** What explain() decomposes: the regression value, a log-odds / logit, or a class probability. */
export type OutputSpace = "value" | "log_odds" | "logit" | "probability";

export interface Explanation {
  /** Per row: expected output (base value). */
  base: Float64Array;
  /** Row-major nRows × nFeatures contributions; base[i] + Σ_j phi[i,j] = output[i]. */
  phi: Float64Array;
  /** Per row: the explained output. */
  output: Float64Array;
  space: OutputSpace;
}

export interface FittedModel {
  readonly type: ModelType;
  readonly task: Task;
  readonly nFeatures: number;
  readonly nClasses: number;
  /** Regression: nRows values. Classification: row-major nRows × nClasses probabilities. */
  predict(X: Float64Array, nRows: number): Float64Array;
  /** Classification explains, per row, the output of class `classIndex[i]`. */
  explain(X: Float64Array, nRows: number, classIndex?: Int32Array): Explanation;
  /** Serialisable state (plain JSON plus typed arrays). */
  state(): Record<string, unknown>;
  /** Training diagnostics (iterations, final loss, …) reported with the metrics. */
  readonly trainInfo?: Record<string, unknown>;
}

/** Per-feature mean of a row-major matrix. */
export function columnMeans(X: Float64Array, nRows: number, nFeatures: number): Float64Array {
  const m = new Float64Array(nFeatures);
  for (let i = 0; i < nRows; i++) {
    const o = i * nFeatures;
    for (let j = 0; j < nFeatures; j++) m[j] += X[o + j];
  }
  for (let j = 0; j < nFeatures; j++) m[j] /= nRows || 1;
  return m;
}

/**
 * Whether a value is its feature's training mean up to rounding, judged against the feature's spread
 * (columnScales): a gap filled with the mean, then standardised, lands about 1e-16 from the model's
 * own mean of that column (the two are summed over different rows, in a different order). Such a
 * value explains as "no effect", exactly 0, not ±1e-15.
 */
export function atTrainingMean(value: number, mean: number, scale: number): boolean {
  return Math.abs(value - mean) <= 1e-9 * scale;
}

/** Per-feature population standard deviation (0 → 1 so it can divide). */
export function columnScales(X: Float64Array, nRows: number, nFeatures: number, means: Float64Array): Float64Array {
  const s = new Float64Array(nFeatures);
  for (let i = 0; i < nRows; i++) {
    const o = i * nFeatures;
    for (let j = 0; j < nFeatures; j++) s[j] += (X[o + j] - means[j]) ** 2;
  }
  for (let j = 0; j < nFeatures; j++) {
    const v = Math.sqrt(s[j] / (nRows || 1));
    s[j] = v > 1e-12 * Math.max(1, Math.abs(means[j])) ? v : 1;
  }
  return s;
}
