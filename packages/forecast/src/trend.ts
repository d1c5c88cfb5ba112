// Piecewise-linear trend with automatic changepoints, Prophet style:
//   g(t) = m + k·t + Σ_j δ_j · max(0, t − s_j),   t = period index / (n − 1) ∈ [0, 1] over history.
// Candidate changepoints s_j sit evenly in the first 80% of history (the last 20% is too short to tell
// a real slope change from noise). The δ_j get a Laplace prior (L1, see regression.ts), so most end up
// ~0 and only real slope changes survive: that is the "automatic" changepoint selection.
// Forecasts continue the final slope k + Σδ_j.

export const DEFAULT_CHANGEPOINTS = 25;
export const CHANGEPOINT_RANGE = 0.8;

export interface TrendSpec {
  /** Divides the period index to get t; n − 1 of the training history (>= 1). */
  tScale: number;
  /** Changepoint locations in t units. */
  changepoints: number[];
}

export function makeTrendSpec(n: number, maxChangepoints = DEFAULT_CHANGEPOINTS): TrendSpec {
  const tScale = Math.max(1, n - 1);
  // Keep at least ~3 periods between candidates so short histories don't get one per point.
  const usable = Math.floor((n - 1) * CHANGEPOINT_RANGE);
  const count = Math.max(0, Math.min(maxChangepoints, Math.floor(usable / 3)));
  const changepoints: number[] = [];
  for (let j = 1; j <= count; j++) changepoints.push(((usable * j) / (count + 1)) / tScale);
  return { tScale, changepoints };
}

export function trendWidth(spec: TrendSpec): number {
  return 2 + spec.changepoints.length;
}

/** Writes the trend columns for period index i into row at offset o. */
export function writeTrendRow(spec: TrendSpec, i: number, row: Float32Array | Float64Array, o: number): void {
  const t = i / spec.tScale;
  row[o] = 1;
  row[o + 1] = t;
  const cps = spec.changepoints;
  for (let j = 0; j < cps.length; j++) row[o + 2 + j] = t > cps[j] ? t - cps[j] : 0;
}

/** Slope (per period, in model units) at period index i given trend coefficients [m, k, δ...]. */
export function slopeAt(spec: TrendSpec, coef: ArrayLike<number>, i: number): number {
  const t = i / spec.tScale;
  let k = coef[1];
  for (let j = 0; j < spec.changepoints.length; j++) if (t > spec.changepoints[j]) k += coef[2 + j];
  return k / spec.tScale;
}

/**
 * Variance (model units²) that future trend changes add at horizon h. Prophet's assumption, made
 * analytic: changepoints keep arriving at the historical candidate rate ρ per period, with deltas drawn
 * like the fitted ones (second moment m₂ = mean δ_j²). Slope deviations then form a random walk and
 *   Var(h) = ρ · m₂/tScale² · Σ_{m=1..h} m² .
 * Prophet plugs (mean|δ|)² into a Laplace instead. With sparse L1 deltas that understates the spread of
 * the few real changes by ~2–3×, so the empirical second moment is used here. The term is negligible
 * for long daily histories; it is what widens 12-month-ahead monthly intervals.
 */
export function trendChangeVariance(spec: TrendSpec, coef: ArrayLike<number>, n: number, H: number): number[] {
  const C = spec.changepoints.length;
  const usable = Math.floor((n - 1) * CHANGEPOINT_RANGE);
  const out: number[] = [];
  if (C === 0 || usable <= 0) return new Array<number>(H).fill(0);
  let m2 = 0;
  for (let j = 0; j < C; j++) m2 += coef[2 + j] * coef[2 + j];
  m2 /= C;
  const rate = C / usable;
  const perStep = (rate * m2) / (spec.tScale * spec.tScale);
  let sumSq = 0;
  for (let h = 1; h <= H; h++) {
    sumSq += h * h;
    out.push(perStep * sumSq);
  }
  return out;
}
