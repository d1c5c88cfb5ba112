// Prediction intervals, calibrated on the rolling-origin backtest.
//
// Log1p-scale models (everything but Croston) store, per horizon h = 1..H, the four offsets
// [lo95, lo80, hi80, hi95] to add to the log1p point forecast; bounds are expm1 of that, clamped at 0.
// Past H the last row widens as sqrt(h/H).
//
// How the table is built:
// 1. Backtest route (>= 24 backtest errors): the errors e(o,h) = log1p(actual) − forecast from every
//    origin are divided by a horizon shape s(h) (a least-squares line through mean|e(h)|, slope >= 0,
//    normalised to mean 1), pooled, and their empirical quantiles taken, with a finite-sample
//    (conformal-style) widening of the quantile level; row h = quantiles × s(h). This calibrates on
//    genuinely out-of-sample errors, so trend drift and model misfit are in the width, not just noise.
//    Errors within one window are correlated (a missed level hits every h), so the offsets are widened
//    by Student-t / normal at the effective sample size (ANOVA intra-window correlation), and the 95%
//    offsets are at least the normal ones from the errors' RMS (a 2.5% tail is one or two points of a
//    small backtest). (Scaling in-sample residuals instead was tried first: monthly series under-covered
//    by ~12 points, since in-sample residuals are heavy-tailed from promotions but narrow in the middle.)
// 2. In-sample floor: empirical quantiles of the in-sample residuals (normal shape with the RMS below
//    30 residuals) times the model's analytic growth (ETS variance for damped trend, whole seasons
//    skipped for seasonal naive, 1 for the regression). Each bound is the wider of 1 and 2, so a lucky
//    backtest cannot make intervals narrower than the model's own noise.
// 3. Without enough backtest errors, the floor alone is used, scaled up by mean|backtest error| /
//    mean|in-sample residual| when there are a few backtest errors.
// 4. Extra variance the backtest cannot see (future trend changes, trend.ts) is added in quadrature.
//
// Croston has no transformed scale; its bounds are empirical quantiles of recent per-period demand
// (demand is modelled as stationary). When the lower quantile is already 0 the interval is made
// one-sided ([0, q_80] / [0, q_95]) so discrete, zero-heavy data is not over-covered.

export type Quad = [lo95: number, lo80: number, hi80: number, hi95: number];

export type IntervalSpec =
  | { space: 'log1p'; table: Quad[] }
  | { space: 'absolute'; bounds: Quad };

const P: Quad = [0.025, 0.1, 0.9, 0.975];
const Z: Quad = [-1.959964, -1.281552, 1.281552, 1.959964];
const MIN_EMPIRICAL = 30;
const MIN_BACKTEST_POINTS = 24;
const SHORT_SIGMA_FLOOR = 0.1;

/** Linear-interpolated quantile of an ascending sorted array (type 7). */
export function quantileSorted(s: ArrayLike<number>, p: number): number {
  const n = s.length;
  if (n === 0) return 0;
  const h = (n - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

export function meanAbs(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.abs(v[i]);
  return v.length ? s / v.length : 0;
}

/** Quantile offsets and mean |residual| from in-sample residuals (log1p scale). */
export function residualShape(residuals: ArrayLike<number>): { q: Quad; scale: number } {
  const n = residuals.length;
  if (n >= MIN_EMPIRICAL) {
    const s = Float64Array.from(residuals).sort();
    const q = P.map((p) => quantileSorted(s, p)) as Quad;
    return { q, scale: Math.max(meanAbs(residuals), 1e-6) };
  }
  let ss = 0;
  for (let i = 0; i < n; i++) ss += residuals[i] * residuals[i];
  // Few residuals: normal shape, RMS with a small-sample floor so a flat 5-day history is not "certain".
  const sigma = Math.max(n ? Math.sqrt(ss / n) : 0, SHORT_SIGMA_FLOOR);
  return { q: Z.map((z) => z * sigma) as Quad, scale: sigma * Math.sqrt(2 / Math.PI) };
}

/** Least-squares line through mean|e(h)| (slope >= 0); values for h = 1..H. */
function horizonLine(errors: number[][], H: number): number[] {
  const m: number[] = [];
  for (let h = 0; h < H; h++) {
    let s = 0;
    for (const e of errors) s += Math.abs(e[h]);
    m.push(s / errors.length);
  }
  const hBar = (H + 1) / 2;
  const mBar = m.reduce((a, b) => a + b, 0) / H;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < H; i++) {
    sxy += (i + 1 - hBar) * (m[i] - mBar);
    sxx += (i + 1 - hBar) ** 2;
  }
  const b = sxx > 0 ? Math.max(0, sxy / sxx) : 0;
  const a = mBar - b * hBar;
  return m.map((_, i) => Math.max(1e-9, a + b * (i + 1)));
}

/**
 * Effective number of independent errors given the intra-window correlation ρ (one-way ANOVA ICC over
 * the backtest windows): n / (1 + (H − 1)ρ).
 */
export function effectiveSize(errors: number[][], shape: number[], H: number): number {
  const k = errors.length;
  const n = k * H;
  if (k < 2 || H < 2) return n;
  const means = errors.map((e) => {
    let s = 0;
    for (let h = 0; h < H; h++) s += e[h] / shape[h];
    return s / H;
  });
  const grand = means.reduce((a, b) => a + b, 0) / k;
  let ssb = 0;
  let ssw = 0;
  errors.forEach((e, o) => {
    ssb += H * (means[o] - grand) ** 2;
    for (let h = 0; h < H; h++) ssw += (e[h] / shape[h] - means[o]) ** 2;
  });
  const msb = ssb / (k - 1);
  const msw = ssw / (k * (H - 1));
  const icc = Math.min(1, Math.max(0, (msb - msw) / (msb + (H - 1) * msw || 1)));
  return n / (1 + (H - 1) * icc);
}

/** Student-t quantile over normal quantile at the same level (Cornish–Fisher expansion), capped at 2. */
export function tOverZ(z: number, nu: number): number {
  if (!(nu > 0)) return 2;
  const z3 = z ** 3;
  const z5 = z ** 5;
  const z7 = z ** 7;
  const t = z + (z3 + z) / (4 * nu) + (5 * z5 + 16 * z3 + 3 * z) / (96 * nu ** 2) + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * nu ** 3);
  return Math.min(2, t / z);
}

export function growthAt(g: number[], h: number): number {
  if (g.length === 0) return 1;
  if (h <= g.length) return g[h - 1];
  return g[g.length - 1] * Math.sqrt(h / g.length);
}

export interface LogIntervalInput {
  /** In-sample residuals on log1p. */
  residuals: ArrayLike<number>;
  /** Backtest errors on log1p, errors[origin][h-1]. */
  logErrors: number[][];
  /** Model's own growth of its in-sample spread with h. */
  analyticGrowth: number[];
  /** Variance to add in quadrature, per h. */
  extraVariance: number[];
  horizon: number;
}

export function buildLogIntervals(input: LogIntervalInput): IntervalSpec {
  const { residuals, analyticGrowth, extraVariance, horizon: H } = input;
  const errors = input.logErrors.filter((e) => e.length > 0);
  const Hbt = errors.length ? Math.min(...errors.map((e) => e.length)) : 0;
  const nbt = errors.length * Hbt;
  const inSample = residualShape(residuals);
  let btRatio = 1;
  let btShape: number[] | null = null;
  let btQ: Quad | null = null;
  if (nbt > 0) {
    const line = horizonLine(errors, Hbt);
    if (nbt >= MIN_BACKTEST_POINTS) {
      const mean = line.reduce((a, b) => a + b, 0) / line.length;
      btShape = line.map((v) => v / mean);
      const u: number[] = [];
      for (const e of errors) for (let h = 0; h < Hbt; h++) u.push(e[h] / btShape[h]);
      u.sort((a, b) => a - b);
      // Conformal-style: ask for a slightly more extreme level, (n+1)/n, so n samples do not under-cover.
      const widen = (p: number) => (p > 0.5 ? 1 - (1 - p) * (nbt / (nbt + 1)) : p * (nbt / (nbt + 1)));
      btQ = P.map((p) => quantileSorted(u, widen(p))) as Quad;
      // Errors inside one window are correlated (a level miss hits all h), so nbt points carry fewer
      // independent draws; widen by Student-t / normal at the effective sample size.
      const nEff = effectiveSize(errors, btShape, Hbt);
      for (let k = 0; k < 4; k++) btQ[k] *= tOverZ(Math.abs(Z[k]), nEff - 1);
      // A 2.5% tail is one or two points of a 36-error backtest, so the 95% band is at least the normal
      // band with the errors' RMS (also t-widened). Doing the same for 80% over-covers daily series.
      let ss = 0;
      for (const v of u) ss += v * v;
      const rms = Math.sqrt(ss / u.length);
      for (const k of [0, 3]) {
        const normal = Z[k] * rms * tOverZ(Math.abs(Z[k]), nEff - 1);
        btQ[k] = k === 0 ? Math.min(btQ[k], normal) : Math.max(btQ[k], normal);
      }
    } else {
      btRatio = Math.max(1, (line.reduce((a, b) => a + b, 0) / line.length) / inSample.scale);
    }
  }
  const table: Quad[] = [];
  for (let h = 1; h <= H; h++) {
    const g = Math.max(1, growthAt(analyticGrowth, h)) * btRatio;
    const row = inSample.q.map((q) => q * g) as Quad;
    if (btQ && btShape) {
      const s = growthAt(btShape, h);
      for (let k = 0; k < 4; k++) {
        const b = btQ[k] * s;
        row[k] = k < 2 ? Math.min(row[k], b) : Math.max(row[k], b);
      }
    }
    // Keep 0 inside the interval and the 95% band outside the 80% one.
    row[1] = Math.min(row[1], 0);
    row[2] = Math.max(row[2], 0);
    row[0] = Math.min(row[0], row[1]);
    row[3] = Math.max(row[3], row[2]);
    const extra = h <= extraVariance.length ? extraVariance[h - 1] : 0;
    if (extra > 0) {
      const sd = Math.max((row[2] - row[1]) / (2 * Z[2]), 1e-6);
      const f = Math.sqrt(1 + extra / (sd * sd));
      for (let k = 0; k < 4; k++) row[k] *= f;
    }
    table.push(row);
  }
  return { space: 'log1p', table };
}

export interface Bounds {
  lo95: number;
  lo80: number;
  hi80: number;
  hi95: number;
}

/** Bounds in quantity units for horizon h (1-based). `point` is on the spec's scale (log1p or units). */
export function boundsAt(spec: IntervalSpec, point: number, h: number): Bounds {
  if (spec.space === 'absolute') {
    const [lo95, lo80, hi80, hi95] = spec.bounds;
    return { lo95, lo80, hi80, hi95 };
  }
  const t = spec.table;
  const H = t.length;
  const row = h <= H ? t[h - 1] : t[H - 1];
  const f = h <= H ? 1 : Math.sqrt(h / H);
  const back = (x: number) => Math.max(0, Math.expm1(x));
  return {
    lo95: back(point + row[0] * f),
    lo80: back(point + row[1] * f),
    hi80: back(point + row[2] * f),
    hi95: back(point + row[3] * f),
  };
}

/** Empirical bounds for a stationary (intermittent) series from its recent values. */
export function absoluteBounds(recent: ArrayLike<number>): Quad {
  const s = Float64Array.from(recent).sort();
  // Inverse-CDF (step) quantiles: counts are discrete, interpolating between 1 and 2 units helps nobody.
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * p) - 1))] : 0);
  const lo80 = q(0.1);
  const lo95 = q(0.025);
  const hi80 = lo80 <= 0 ? q(0.8) : q(0.9);
  const hi95 = lo95 <= 0 ? q(0.95) : q(0.975);
  return [lo95, lo80, hi80, hi95];
}
