// Limited-memory BFGS with a backtracking (Armijo) line search. Parameters and
// history live in float64; the objective may be evaluated in float32 (tfjs), so
// a failed line search is treated as convergence at working precision.

import type { Checkpoint } from "../cooperative";

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
  converged: boolean;
  gradMax: number;
}

export interface LbfgsOptions {
  maxIter: number;
  /** Stop when max |g_i| < tol. */
  tol: number;
  memory?: number;
  checkpoint?: Checkpoint;
  onIteration?: (iter: number, f: number, gradMax: number) => void;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export async function lbfgs(
  fg: (x: Float64Array) => { f: number; g: Float64Array },
  x0: Float64Array,
  opts: LbfgsOptions,
): Promise<LbfgsResult> {
  const m = opts.memory ?? 10;
  const n = x0.length;
  let x = Float64Array.from(x0);
  let { f, g } = fg(x);
  const S: Float64Array[] = [], Y: Float64Array[] = [], RHO: number[] = [];
  let iter = 0;
  let gmax = maxAbs(g);
  const alpha = new Float64Array(m);
  while (iter < opts.maxIter) {
    if (gmax < opts.tol) return { x, f, iterations: iter, converged: true, gradMax: gmax };
    await opts.checkpoint?.();
    // Two-loop recursion: d = -H g.
    const q = Float64Array.from(g);
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = RHO[k] * dot(S[k], q);
      for (let i = 0; i < n; i++) q[i] -= alpha[k] * Y[k][i];
    }
    let gamma = 1;
    if (S.length) gamma = dot(S[S.length - 1], Y[S.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1]);
    else gamma = 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let i = 0; i < n; i++) q[i] *= gamma;
    for (let k = 0; k < S.length; k++) {
      const beta = RHO[k] * dot(Y[k], q);
      for (let i = 0; i < n; i++) q[i] += S[k][i] * (alpha[k] - beta);
    }
    const d = q;
    for (let i = 0; i < n; i++) d[i] = -d[i];
    let slope = dot(g, d);
    if (slope >= 0) {
      // Not a descent direction (precision loss): restart from steepest descent.
      S.length = 0; Y.length = 0; RHO.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i] / Math.max(1, Math.sqrt(dot(g, g)));
      slope = dot(g, d);
    }
    let step = 1;
    let accepted = false;
    let xn = new Float64Array(n), fn = f, gn = g;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < n; i++) xn[i] = x[i] + step * d[i];
      const r = fg(xn);
      if (Number.isFinite(r.f)) {
        const armijo = r.f <= f + 1e-4 * step * slope;
        // Approximate Wolfe (Hager–Zhang): when f differences are below float32
        // resolution, trust the directional derivative instead.
        const dphi = dot(r.g, d);
        const approxWolfe = r.f <= f + 1e-6 * Math.abs(f) + 1e-12 && dphi >= 0.9 * slope && dphi <= -0.8 * slope;
        if (armijo || approxWolfe) {
          fn = r.f; gn = r.g; accepted = true;
          break;
        }
      }
      step *= 0.5;
    }
    iter++;
    if (!accepted) return { x, f, iterations: iter, converged: true, gradMax: gmax };
    const s = new Float64Array(n), y = new Float64Array(n);
    for (let i = 0; i < n; i++) { s[i] = xn[i] - x[i]; y[i] = gn[i] - g[i]; }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      S.push(s); Y.push(y); RHO.push(1 / sy);
      if (S.length > m) { S.shift(); Y.shift(); RHO.shift(); }
    }
    const fPrev = f;
    x = xn; f = fn; g = gn;
    gmax = maxAbs(g);
    opts.onIteration?.(iter, f, gmax);
    // Objective no longer moves at float32 resolution: done.
    if (Math.abs(fPrev - f) <= 1e-12 * Math.max(1, Math.abs(f)) && gmax < opts.tol * 10) {
      return { x, f, iterations: iter, converged: true, gradMax: gmax };
    }
  }
  return { x, f, iterations: iter, converged: gmax < opts.tol, gradMax: gmax };
}
