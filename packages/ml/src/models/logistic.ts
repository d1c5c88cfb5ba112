// Logistic regression with sklearn's L2 objective, 0.5‖W‖² + C·Σ logloss
// (intercept unpenalised): a single sigmoid vector for two classes, softmax over
// all K classes otherwise (sklearn's multinomial). Loss and gradient run on
// TensorFlow.js; L-BFGS in float64 drives them. Features are standardised
// internally (the penalty is rescaled so the optimum is unchanged) to keep the
// problem well conditioned.

import * as tf from "@tensorflow/tfjs-core";
import { ensureBackend } from "../backend";
import { createCheckpoint } from "../cooperative";
import { lbfgs } from "./lbfgs";
import { linearExplain } from "./linear";
import { columnMeans, columnScales, type Explanation, type FittedModel, type ModelFitContext, type TrainingSet } from "./types";

export interface LogisticParams {
  C?: number;
  max_iter?: number;
  tol?: number;
  fit_intercept?: boolean;
}

export interface LogisticState {
  /** Row-major K' × p, K' = 1 for binary (positive class = classes[1]) else K. */
  coef: Float64Array;
  intercept: Float64Array;
  nClasses: number;
  means: Float64Array;
  /** Training feature spreads (columnScales); absent in artifacts made before 2026-12-06. */
  scales?: Float64Array;
}

export class LogisticRegressionModel implements FittedModel {
  readonly type = "logistic_regression" as const;
  readonly task = "classification" as const;
  readonly nFeatures: number;
  readonly nClasses: number;

  constructor(private readonly s: LogisticState, readonly trainInfo?: Record<string, unknown>) {
    this.nClasses = s.nClasses;
    this.nFeatures = s.means.length;
  }

  get coef(): Float64Array { return this.s.coef; }
  get intercept(): Float64Array { return this.s.intercept; }

  /** Raw scores: binary margin (n) or logits (n × K). */
  decision(X: Float64Array, nRows: number): Float64Array {
    const p = this.nFeatures, W = this.s.coef, b = this.s.intercept;
    const k = b.length;
    const out = new Float64Array(nRows * k);
    for (let i = 0; i < nRows; i++) {
      const o = i * p;
      for (let c = 0; c < k; c++) {
        let s = b[c];
        const wo = c * p;
        for (let j = 0; j < p; j++) s += W[wo + j] * X[o + j];
        out[i * k + c] = s;
      }
    }
    return out;
  }

  predict(X: Float64Array, nRows: number): Float64Array {
    const z = this.decision(X, nRows);
    const K = this.nClasses;
    const P = new Float64Array(nRows * K);
    if (this.s.intercept.length === 1) {
      for (let i = 0; i < nRows; i++) {
        const p1 = 1 / (1 + Math.exp(-z[i]));
        P[i * 2] = 1 - p1;
        P[i * 2 + 1] = p1;
      }
      return P;
    }
    for (let i = 0; i < nRows; i++) {
      let m = -Infinity;
      for (let c = 0; c < K; c++) m = Math.max(m, z[i * K + c]);
      let sum = 0;
      for (let c = 0; c < K; c++) { const e = Math.exp(z[i * K + c] - m); P[i * K + c] = e; sum += e; }
      for (let c = 0; c < K; c++) P[i * K + c] /= sum;
    }
    return P;
  }

  explain(X: Float64Array, nRows: number, classIndex?: Int32Array): Explanation {
    const p = this.nFeatures;
    const binary = this.s.intercept.length === 1;
    const base = new Float64Array(nRows), phi = new Float64Array(nRows * p), output = new Float64Array(nRows);
    for (let i = 0; i < nRows; i++) {
      const c = classIndex ? classIndex[i] : binary ? 1 : 0;
      // Binary: log-odds of class 1; class 0's log-odds is its negation.
      const row = binary ? 0 : c;
      const sign = binary && c === 0 ? -1 : 1;
      const e = linearExplain(X.subarray(i * p, (i + 1) * p), 1, this.s.coef.subarray(row * p, (row + 1) * p), this.s.intercept[row], this.s.means, "log_odds", sign, this.s.scales);
      base[i] = e.base[0];
      output[i] = e.output[0];
      phi.set(e.phi, i * p);
    }
    return { base, phi, output, space: binary ? "log_odds" : "logit" };
  }

  state(): Record<string, unknown> {
    return { coef: this.s.coef, intercept: this.s.intercept, nClasses: this.s.nClasses, means: this.s.means, ...(this.s.scales ? { scales: this.s.scales } : {}) };
  }

  static load(state: Record<string, unknown>): LogisticRegressionModel {
    return new LogisticRegressionModel({
      coef: state.coef as Float64Array,
      intercept: state.intercept as Float64Array,
      nClasses: state.nClasses as number,
      means: state.means as Float64Array,
      scales: state.scales as Float64Array | undefined,
    });
  }
}

export async function fitLogisticRegression(data: TrainingSet, params: LogisticParams, ctx: Pick<ModelFitContext, "signal" | "onProgress">): Promise<LogisticRegressionModel> {
  await ensureBackend();
  const { X, y, nRows: n, nFeatures: p, nClasses: K } = data;
  const C = params.C ?? 1;
  const maxIter = params.max_iter ?? 500;
  const tol = params.tol ?? 1e-6;
  const withIntercept = params.fit_intercept ?? true;
  const k = K === 2 ? 1 : K;

  const means = columnMeans(X, n, p);
  const scales = columnScales(X, n, p, means);
  const center = withIntercept ? means : new Float64Array(p);
  const Z = new Float32Array(n * p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) Z[i * p + j] = (X[i * p + j] - center[j]) / scales[j];
  const Yv = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    if (k === 1) Yv[i] = y[i] === 1 ? 1 : 0;
    else Yv[i * k + y[i]] = 1;
  }
  // Penalty weight per standardised coefficient: ‖W‖² = Σ (W'_jc / s_j)².
  const pen = new Float32Array(p * k);
  for (let j = 0; j < p; j++) for (let c = 0; c < k; c++) pen[j * k + c] = 1 / (scales[j] * scales[j] * C * n);

  const Zt = tf.tensor2d(Z, [n, p]);
  const Yt = tf.tensor2d(Yv, [n, k]);
  const penT = tf.tensor2d(pen, [p, k]);
  const nW = p * k;
  // θ = [W' (p × k, row-major), b (k)]; objective is the sklearn one divided by C·n.
  const fg = (theta: Float64Array): { f: number; g: Float64Array } => {
    const [f, gW, gb] = tf.tidy(() => {
      const W = tf.tensor2d(Float32Array.from(theta.subarray(0, nW)), [p, k]);
      const b = tf.tensor1d(Float32Array.from(theta.subarray(nW)));
      const logits = withIntercept ? tf.add(tf.matMul(Zt, W), b) : tf.matMul(Zt, W);
      let loss: tf.Tensor, R: tf.Tensor;
      if (k === 1) {
        // BCE with logits: softplus(z) − y·z.
        loss = tf.mean(tf.sub(tf.softplus(logits), tf.mul(Yt, logits)));
        R = tf.sub(tf.sigmoid(logits), Yt);
      } else {
        const logP = tf.logSoftmax(logits);
        loss = tf.neg(tf.mean(tf.sum(tf.mul(Yt, logP), 1)));
        R = tf.sub(tf.exp(logP), Yt);
      }
      const reg = tf.mul(0.5, tf.sum(tf.mul(penT, tf.square(W))));
      const gradW = tf.add(tf.div(tf.matMul(Zt, R, true, false), n), tf.mul(penT, W));
      const gradB = tf.mean(R, 0);
      return [tf.add(loss, reg).dataSync()[0], gradW.dataSync(), gradB.dataSync()];
    });
    const g = new Float64Array(nW + k);
    g.set(gW, 0);
    if (withIntercept) g.set(gb, nW);
    return { f, g };
  };

  const theta0 = new Float64Array(nW + k);
  if (withIntercept) {
    // Start from the class log-priors: fewer iterations, same optimum.
    const counts = new Float64Array(K);
    for (let i = 0; i < n; i++) counts[y[i]]++;
    if (k === 1) theta0[nW] = Math.log(Math.max(counts[1], 0.5) / Math.max(counts[0], 0.5));
    else {
      // Centred so the intercepts sum to zero: the softmax gradient preserves that sum,
      // which pins the otherwise free constant exactly where sklearn ends up.
      let mean = 0;
      for (let c = 0; c < K; c++) mean += (theta0[nW + c] = Math.log(Math.max(counts[c], 0.5) / n)) / K;
      for (let c = 0; c < K; c++) theta0[nW + c] -= mean;
    }
  }
  let result;
  try {
    result = await lbfgs(fg, theta0, {
      maxIter,
      tol,
      checkpoint: createCheckpoint(ctx.signal),
      onIteration: (it, f) => ctx.onProgress?.(Math.min(0.99, it / maxIter), `iteration ${it}, loss ${f.toFixed(6)}`),
    });
  } finally {
    Zt.dispose();
    Yt.dispose();
    penT.dispose();
  }

  // Back to original units: W_cj = W'_jc / s_j, b_c = b'_c − Σ_j W_cj·center_j.
  const coef = new Float64Array(k * p);
  const intercept = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let b = withIntercept ? result.x[nW + c] : 0;
    for (let j = 0; j < p; j++) {
      const w = result.x[j * k + c] / scales[j];
      coef[c * p + j] = w;
      b -= w * center[j];
    }
    intercept[c] = b;
  }
  ctx.onProgress?.(1, `converged=${result.converged} after ${result.iterations} iterations`);
  return new LogisticRegressionModel(
    { coef, intercept, nClasses: K, means, scales },
    { iterations: result.iterations, converged: result.converged, final_loss: result.f, grad_max: result.gradMax },
  );
}
