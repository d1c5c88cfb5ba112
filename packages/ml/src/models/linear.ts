// Linear regression: normal equations. The Gram matrix ZᵀZ and Zᵀy are computed
// on TensorFlow.js (float32) from internally standardised features; the small
// p × p system is solved in float64 by Cholesky. Standardising first keeps the
// float32 Gram well conditioned.

import * as tf from "@tensorflow/tfjs-core";
import { ensureBackend } from "../backend";
import { throwIfAborted } from "../errors";
import { choleskySolve } from "./cholesky";
import { atTrainingMean, columnMeans, columnScales, type Explanation, type FittedModel, type ModelFitContext, type TrainingSet } from "./types";

export interface LinearParams {
  alpha?: number;
  fit_intercept?: boolean;
}

export interface LinearState {
  coef: Float64Array;
  intercept: number;
  /** Training feature means: the reference point of explanations. */
  means: Float64Array;
  /** Training feature spreads (columnScales); absent in artifacts made before 2026-12-06. */
  scales?: Float64Array;
}

export class LinearRegressionModel implements FittedModel {
  readonly type = "linear_regression" as const;
  readonly task = "regression" as const;
  readonly nClasses = 0;
  readonly nFeatures: number;

  constructor(private readonly s: LinearState, readonly trainInfo?: Record<string, unknown>) {
    this.nFeatures = s.coef.length;
  }

  get coef(): Float64Array { return this.s.coef; }
  get intercept(): number { return this.s.intercept; }

  predict(X: Float64Array, nRows: number): Float64Array {
    const p = this.nFeatures, w = this.s.coef, b = this.s.intercept;
    const out = new Float64Array(nRows);
    for (let i = 0; i < nRows; i++) {
      let s = b;
      const o = i * p;
      for (let j = 0; j < p; j++) s += w[j] * X[o + j];
      out[i] = s;
    }
    return out;
  }

  explain(X: Float64Array, nRows: number): Explanation {
    return linearExplain(X, nRows, this.s.coef, this.s.intercept, this.s.means, "value", 1, this.s.scales);
  }

  state(): Record<string, unknown> {
    return { coef: this.s.coef, intercept: this.s.intercept, means: this.s.means, ...(this.s.scales ? { scales: this.s.scales } : {}) };
  }

  static load(state: Record<string, unknown>): LinearRegressionModel {
    return new LinearRegressionModel({
      coef: state.coef as Float64Array,
      intercept: state.intercept as number,
      means: state.means as Float64Array,
      scales: state.scales as Float64Array | undefined,
    });
  }
}

/**
 * Exact additive attribution of a linear score w·x + b around the reference point `means`. With
 * `scales` (the features' training spreads), a value atTrainingMean contributes exactly 0.
 */
export function linearExplain(
  X: Float64Array,
  nRows: number,
  w: Float64Array,
  b: number,
  means: Float64Array,
  space: Explanation["space"],
  sign = 1,
  scales?: Float64Array,
): Explanation {
  const p = w.length;
  let base0 = b;
  for (let j = 0; j < p; j++) base0 += w[j] * means[j];
  const base = new Float64Array(nRows).fill(sign * base0);
  const phi = new Float64Array(nRows * p);
  const output = new Float64Array(nRows);
  for (let i = 0; i < nRows; i++) {
    let s = sign * base0;
    for (let j = 0; j < p; j++) {
      const d = X[i * p + j] - means[j];
      const c = scales && atTrainingMean(X[i * p + j], means[j], scales[j]) ? 0 : sign * w[j] * d;
      phi[i * p + j] = c;
      s += c;
    }
    output[i] = s;
  }
  return { base, phi, output, space };
}

export async function fitLinearRegression(data: TrainingSet, params: LinearParams, ctx: Pick<ModelFitContext, "signal" | "onProgress">): Promise<LinearRegressionModel> {
  await ensureBackend();
  throwIfAborted(ctx.signal);
  const { X, y, nRows: n, nFeatures: p } = data;
  const intercept = params.fit_intercept ?? true;
  const alpha = params.alpha ?? 0;
  const means = columnMeans(X, n, p);
  const scales = columnScales(X, n, p, means);
  const center = intercept ? means : new Float64Array(p);
  let yMean = 0;
  if (intercept) { for (let i = 0; i < n; i++) yMean += y[i]; yMean /= n; }

  const Z = new Float32Array(n * p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) Z[i * p + j] = (X[i * p + j] - center[j]) / scales[j];
  const yc = new Float32Array(n);
  for (let i = 0; i < n; i++) yc[i] = y[i] - yMean;

  const [gram, rhs] = tf.tidy(() => {
    const Zt = tf.tensor2d(Z, [n, p]);
    const yt = tf.tensor2d(yc, [n, 1]);
    return [tf.matMul(Zt, Zt, true, false).dataSync(), tf.matMul(Zt, yt, true, false).dataSync()];
  });
  ctx.onProgress?.(0.7, "normal equations");
  throwIfAborted(ctx.signal);

  const A = Float64Array.from(gram);
  // Ridge penalty α‖w‖² in original units is α/s_j² on the standardised coefficient;
  // the jitter keeps collinear designs (e.g. full one-hot + intercept) solvable.
  const jitter = 1e-7 * Math.max(n, 1);
  for (let j = 0; j < p; j++) A[j * p + j] += alpha / (scales[j] * scales[j]) + jitter;
  let wz: Float64Array;
  if (p === 0) wz = new Float64Array(0);
  else {
    try {
      wz = choleskySolve(A, Float64Array.from(rhs), p);
    } catch {
      for (let j = 0; j < p; j++) A[j * p + j] += 1e-4 * n;
      wz = choleskySolve(A, Float64Array.from(rhs), p);
    }
  }
  const coef = new Float64Array(p);
  let b = yMean;
  for (let j = 0; j < p; j++) {
    coef[j] = wz[j] / scales[j];
    b -= coef[j] * center[j];
  }
  ctx.onProgress?.(1, "solved");
  return new LinearRegressionModel({ coef, intercept: intercept ? b : 0, means, scales }, { solver: "normal_equations" });
}
