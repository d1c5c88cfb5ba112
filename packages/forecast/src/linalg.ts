// Linear algebra for the MAP fit.
//
// Split of work (measured on the 2-core box, n = 1095 rows, p = 55 columns):
// - The Gram matrix XᵀX is the only O(n·p²) step. It runs as ONE tf.matMul per fit, so a faster
//   tfjs backend (tfjs-node, wasm, webgl) speeds the fit up without code changes. The cpu backend takes
//   ~14 ms for it (a hand-written JS loop takes ~4 ms, so tfjs-cpu is slower, but the brief wants the
//   heavy op on tfjs, and one call per fit keeps the cost small).
// - tfjs-core has no Cholesky/solve (tf.linalg only offers qr/gramSchmidt/bandPart), and p ≈ 55 makes the
//   O(p³) factorisation ~50k flops, so it runs in float64 JS. Robust/L1 reweighting (see regression.ts)
//   only changes the right-hand side and the diagonal, so the Gram is reused across iterations.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

let prodSet = false;

function ensureProd(): void {
  if (!prodSet) {
    // Production mode skips tfjs debug checks and the "install tfjs-node" console banner.
    // Only switch it on when nobody configured tfjs before us.
    if (!Object.prototype.hasOwnProperty.call(tf.env().getFlags(), 'PROD')) tf.enableProdMode();
    prodSet = true;
  }
}

/** XᵀX for a row-major n×p design (float32 on the tfjs side, returned as float64). */
export function gram(X: Float32Array, n: number, p: number): Float64Array {
  return blockGrams(X, p, [0, n])[0];
}

/**
 * Gram matrices of consecutive row blocks [b0,b1), [b1,b2), … of one design, in a single tfjs
 * round-trip. Prefix sums of these give the Gram of every backtest origin's training rows for the
 * price of one full XᵀX.
 */
export function blockGrams(X: Float32Array, p: number, bounds: number[]): Float64Array[] {
  ensureProd();
  const blocks = bounds.length - 1;
  const out = tf.tidy(() => {
    const x = tf.tensor2d(X.subarray(bounds[0] * p, bounds[blocks] * p), [bounds[blocks] - bounds[0], p], 'float32');
    const parts: tf.Tensor[] = [];
    for (let b = 0; b < blocks; b++) {
      const rows = bounds[b + 1] - bounds[b];
      if (rows === 0) {
        parts.push(tf.zeros([p, p]));
        continue;
      }
      const xb = blocks === 1 ? x : tf.slice(x, [bounds[b] - bounds[0], 0], [rows, p]);
      parts.push(tf.matMul(xb, xb, true, false));
    }
    return blocks === 1 ? parts[0] : tf.stack(parts);
  });
  try {
    const flat = out.dataSync();
    const res: Float64Array[] = [];
    for (let b = 0; b < blocks; b++) res.push(Float64Array.from(flat.subarray(b * p * p, (b + 1) * p * p)));
    return res;
  } finally {
    out.dispose();
  }
}

/** In-place Cholesky (lower) of a symmetric positive-definite p×p matrix; false if not PD. */
export function cholesky(A: Float64Array, p: number): boolean {
  for (let j = 0; j < p; j++) {
    let s = A[j * p + j];
    for (let k = 0; k < j; k++) s -= A[j * p + k] * A[j * p + k];
    if (!(s > 0) || !Number.isFinite(s)) return false;
    const d = Math.sqrt(s);
    A[j * p + j] = d;
    for (let i = j + 1; i < p; i++) {
      let t = A[i * p + j];
      for (let k = 0; k < j; k++) t -= A[i * p + k] * A[j * p + k];
      A[i * p + j] = t / d;
    }
  }
  return true;
}

/** Solves L Lᵀ x = b given the factor from cholesky(). */
export function cholSolve(L: Float64Array, p: number, b: Float64Array): Float64Array {
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * p + k] * y[k];
    y[i] = s / L[i * p + i];
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < p; k++) s -= L[k * p + i] * x[k];
    x[i] = s / L[i * p + i];
  }
  return x;
}

/** Solves (G + diag(lambda)) x = b, adding jitter if rounding makes the system indefinite. */
export function ridgeSolve(G: Float64Array, lambda: Float64Array, b: Float64Array, p: number): Float64Array {
  let jitter = 0;
  let trace = 0;
  for (let j = 0; j < p; j++) trace += G[j * p + j];
  const scale = Math.max(trace / p, 1e-12);
  for (let attempt = 0; attempt < 8; attempt++) {
    const A = Float64Array.from(G);
    for (let j = 0; j < p; j++) A[j * p + j] += lambda[j] + jitter;
    if (cholesky(A, p)) return cholSolve(A, p, b);
    jitter = jitter === 0 ? scale * 1e-9 : jitter * 100;
  }
  throw new Error('normal equations are not positive definite');
}

/** X·beta for a row-major design. */
export function matVec(X: Float32Array, n: number, p: number, beta: Float64Array): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * p;
    for (let j = 0; j < p; j++) s += X[o + j] * beta[j];
    out[i] = s;
  }
  return out;
}

/** Xᵀ·v for a row-major design. */
export function matTVec(X: Float32Array, n: number, p: number, v: Float64Array): Float64Array {
  const out = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const vi = v[i];
    if (vi === 0) continue;
    const o = i * p;
    for (let j = 0; j < p; j++) out[j] += X[o + j] * vi;
  }
  return out;
}
