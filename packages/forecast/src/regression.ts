// Robust MAP fit of a linear model z ≈ Xβ on the transformed (log1p) scale.
//
// Objective (×2σ² so it reads as penalised least squares):
//   Σ_i ρ_c(z_i − x_iβ)  +  Σ_{j∈cp} (2σ²/τ_cp)·|β_j|  +  Σ_{j∈gauss} (σ²/τ_j²)·β_j²
// where ρ_c is Huber's loss (quadratic within c·σ, linear beyond: promotions, stock-outs and other
// outliers stop dragging the fit), the changepoint deltas get a Laplace (L1) prior and seasonal/holiday
// coefficients a Gaussian prior. σ is re-estimated each iteration as 1.4826·MAD of the residuals.
//
// Solver: Huber's "pseudo-observation" iteration (winsorise residuals, refit) combined with the
// adaptive-ridge majoriser of |δ| (δ²/2|δ₀| + |δ₀|/2). Both only change the right-hand side and the
// diagonal, so XᵀX is computed ONCE (by tfjs, linalg.gram) and every iteration is an O(p³)+O(n·p) solve.

import { gram, matTVec, matVec, ridgeSolve } from './linalg';

/** Prior per coefficient. */
export const Prior = {
  /** Intercept, base slope: effectively unpenalised. */
  Free: 0,
  /** Changepoint delta: Laplace prior. */
  Laplace: 1,
  /** Seasonal / holiday coefficient: Gaussian prior. */
  Gauss: 2,
} as const;

export interface RobustFitOptions {
  /** Huber threshold in units of σ. */
  huberC?: number;
  iterations?: number;
  /** Precomputed XᵀX (e.g. from linalg.blockGrams); computed with tfjs when absent. */
  gram?: Float64Array;
}

export interface RobustFitResult {
  beta: Float64Array;
  fitted: Float64Array;
  /** Robust residual scale (1.4826·MAD). */
  sigma: number;
}

/** Robust/L1 reweighting passes; each is one O(p³) solve plus two O(n·p) products. */
export const SOLVER = { iterations: 8 };

const SIGMA_FLOOR = 1e-3;
const L1_EPS = 1e-3;

export function robustMapFit(
  X: Float32Array,
  n: number,
  p: number,
  z: Float64Array,
  prior: Uint8Array,
  scale: Float64Array,
  opts: RobustFitOptions = {},
): RobustFitResult {
  const c = opts.huberC ?? 1.345;
  const iterations = opts.iterations ?? SOLVER.iterations;
  const G = opts.gram ?? gram(X, n, p);
  let sigma = Math.max(diffScale(z), SIGMA_FLOOR);
  const lambda = new Float64Array(p);
  const setGauss = () => {
    for (let j = 0; j < p; j++) {
      if (prior[j] === Prior.Free) lambda[j] = 1e-8 * n;
      else if (prior[j] === Prior.Gauss) lambda[j] = (sigma * sigma) / (scale[j] * scale[j]);
    }
  };
  setGauss();
  // First pass: L2 on deltas with the same scale (a Gaussian stand-in for the Laplace prior).
  for (let j = 0; j < p; j++) if (prior[j] === Prior.Laplace) lambda[j] = (sigma * sigma) / (scale[j] * scale[j]);

  let rhs = matTVec(X, n, p, z);
  let beta = ridgeSolve(G, lambda, rhs, p);
  let fitted = matVec(X, n, p, beta);
  const resid = new Float64Array(n);
  const psi = new Float64Array(n);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < n; i++) resid[i] = z[i] - fitted[i];
    sigma = Math.max(madScale(resid), SIGMA_FLOOR);
    const cut = c * sigma;
    for (let i = 0; i < n; i++) psi[i] = resid[i] > cut ? cut : resid[i] < -cut ? -cut : resid[i];
    setGauss();
    for (let j = 0; j < p; j++) {
      if (prior[j] === Prior.Laplace) lambda[j] = (sigma * sigma) / (scale[j] * Math.max(Math.abs(beta[j]), L1_EPS));
    }
    // Xᵀz* with pseudo-observations z* = fitted + ψ(resid): Xᵀfitted = G·β needs no pass over the rows.
    rhs = matTVec(X, n, p, psi);
    for (let a = 0; a < p; a++) {
      let s = 0;
      for (let b = 0; b < p; b++) s += G[a * p + b] * beta[b];
      rhs[a] += s;
    }
    const next = ridgeSolve(G, lambda, rhs, p);
    let change = 0;
    for (let j = 0; j < p; j++) change = Math.max(change, Math.abs(next[j] - beta[j]));
    beta = next;
    fitted = matVec(X, n, p, beta);
    if (change < 1e-5) break;
  }
  for (let i = 0; i < n; i++) resid[i] = z[i] - fitted[i];
  sigma = Math.max(madScale(resid), SIGMA_FLOOR);
  return { beta, fitted, sigma };
}

export function median(v: ArrayLike<number>): number {
  const n = v.length;
  if (n === 0) return 0;
  const a = Float64Array.from(v);
  const hi = select(a, n >> 1);
  if (n % 2) return hi;
  // Lower middle = max of the left part after selection.
  let lo = -Infinity;
  for (let i = 0; i < n >> 1; i++) if (a[i] > lo) lo = a[i];
  return 0.5 * (lo + hi);
}

/** Hoare quickselect: k-th smallest, partially reorders `a` (O(n) on average; runs every iteration). */
function select(a: Float64Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  while (right > left) {
    const pivot = a[(left + right) >> 1];
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k];
  }
  return a[k];
}

/** 1.4826·MAD around the median; falls back to mean absolute deviation when over half the values tie. */
export function madScale(v: ArrayLike<number>): number {
  const m = median(v);
  const dev = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) dev[i] = Math.abs(v[i] - m);
  const mad = median(dev) * 1.4826;
  if (mad > 0) return mad;
  let s = 0;
  for (let i = 0; i < dev.length; i++) s += dev[i];
  return (s / Math.max(1, dev.length)) * 1.2533;
}

/** Noise scale from first differences (robust starting value for σ). */
function diffScale(z: Float64Array): number {
  if (z.length < 3) return 0.1;
  const d = new Float64Array(z.length - 1);
  for (let i = 1; i < z.length; i++) d[i - 1] = z[i] - z[i - 1];
  return madScale(d) / Math.SQRT2;
}
