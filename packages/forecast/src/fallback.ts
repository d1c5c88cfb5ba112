// Simple models used when the main model does not fit the data:
// - damped_trend: history shorter than two cycles of every seasonality that applies (see seasonality.ts);
//   Holt's linear trend with damping on log1p, parameters by a small grid search on one-step SSE.
// - croston: intermittent demand (at least half the recent periods have zero sales); the
//   Syntetos–Boylan (SBA) variant of Croston, which removes Croston's upward bias.
// - seasonal_naive: repeat the last season; used if the main fit fails numerically, and as the
//   benchmark baseline.
// - naive: fewer than 4 periods; the mean of what we have.
// All of them forecast >= 0 by construction (log1p back-transform or non-negative averages).

export interface DampedState {
  kind: 'damped_trend';
  /** Level and slope on the log1p scale at the end of history. */
  level: number;
  slope: number;
  alpha: number;
  beta: number;
  phi: number;
}

export interface SeasonalNaiveState {
  kind: 'seasonal_naive';
  /** The last season of history (raw quantities), oldest first. */
  lastSeason: number[];
}

export interface CrostonState {
  kind: 'croston';
  /** Expected demand per period (SBA). */
  rate: number;
}

export interface NaiveState {
  kind: 'naive';
  level: number;
}

const ALPHAS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8];
const BETAS = [0.01, 0.05, 0.1, 0.2];
const PHIS = [0.8, 0.9, 0.98];

export interface DampedFit {
  state: DampedState;
  /** One-step-ahead in-sample errors, log1p scale. */
  residuals: Float64Array;
}

export function fitDampedTrend(values: Float64Array): DampedFit {
  const n = values.length;
  const z = Float64Array.from(values, Math.log1p);
  let best: { sse: number; state: DampedState; residuals: Float64Array } | null = null;
  for (const alpha of ALPHAS) {
    for (const beta of BETAS) {
      if (beta > alpha) continue;
      for (const phi of PHIS) {
        let level = z[0];
        let slope = n > 2 ? (z[Math.min(n - 1, 3)] - z[0]) / Math.min(n - 1, 3) : 0;
        let sse = 0;
        const res = new Float64Array(Math.max(0, n - 1));
        for (let t = 1; t < n; t++) {
          const pred = level + phi * slope;
          const e = z[t] - pred;
          res[t - 1] = e;
          sse += e * e;
          level = pred + alpha * e;
          slope = phi * slope + beta * e;
        }
        if (!best || sse < best.sse) best = { sse, state: { kind: 'damped_trend', level, slope, alpha, beta, phi }, residuals: res };
      }
    }
  }
  return { state: best!.state, residuals: best!.residuals };
}

/** log1p-scale forecast for h = 1..H. */
export function predictDamped(s: DampedState, H: number): Float64Array {
  const out = new Float64Array(H);
  let acc = 0;
  let ph = 1;
  for (let h = 1; h <= H; h++) {
    ph *= s.phi;
    acc += ph;
    out[h - 1] = s.level + acc * s.slope;
  }
  return out;
}

/** ETS(A,Ad,N) forecast-variance multiplier sqrt(1 + Σ_{j<h} c_j²), c_j = α + βφ(1−φ^j)/(1−φ). */
export function dampedGrowth(s: DampedState, H: number): number[] {
  const out: number[] = [];
  let v = 1;
  for (let h = 1; h <= H; h++) {
    if (h > 1) {
      const j = h - 1;
      const cj = s.alpha + (s.beta * s.phi * (1 - Math.pow(s.phi, j))) / (1 - s.phi);
      v += cj * cj;
    }
    out.push(Math.sqrt(v));
  }
  return out;
}

export function fitSeasonalNaive(values: Float64Array, m: number): { state: SeasonalNaiveState; residuals: Float64Array } {
  const n = values.length;
  const lag = Math.min(m, n);
  const lastSeason = Array.from(values.slice(n - lag));
  const residuals = new Float64Array(Math.max(0, n - lag));
  for (let t = lag; t < n; t++) residuals[t - lag] = Math.log1p(values[t]) - Math.log1p(values[t - lag]);
  return { state: { kind: 'seasonal_naive', lastSeason }, residuals };
}

export function predictSeasonalNaive(s: SeasonalNaiveState, H: number): Float64Array {
  const m = s.lastSeason.length;
  const out = new Float64Array(H);
  for (let h = 1; h <= H; h++) out[h - 1] = s.lastSeason[(h - 1) % m];
  return out;
}

/** Seasonal naive errors grow with the number of whole seasons skipped: sqrt(⌊(h−1)/m⌋ + 1). */
export function seasonalNaiveGrowth(m: number, H: number): number[] {
  const out: number[] = [];
  for (let h = 1; h <= H; h++) out.push(Math.sqrt(Math.floor((h - 1) / m) + 1));
  return out;
}

/** Share of zero periods in the most recent `window` periods. */
export function zeroShare(values: Float64Array, window: number): number {
  const n = values.length;
  const from = Math.max(0, n - window);
  let z = 0;
  for (let i = from; i < n; i++) if (values[i] === 0) z++;
  return z / Math.max(1, n - from);
}

const CROSTON_ALPHA = 0.1;

export function fitCroston(values: Float64Array): CrostonState {
  let size = -1;
  let interval = -1;
  let since = 0;
  for (let t = 0; t < values.length; t++) {
    since++;
    if (values[t] > 0) {
      if (size < 0) {
        size = values[t];
        interval = since;
      } else {
        size += CROSTON_ALPHA * (values[t] - size);
        interval += CROSTON_ALPHA * (since - interval);
      }
      since = 0;
    }
  }
  if (size < 0) return { kind: 'croston', rate: 0 };
  // Periods since the last sale also count as evidence that demand got rarer.
  if (since > interval) interval += CROSTON_ALPHA * (since - interval);
  return { kind: 'croston', rate: (1 - CROSTON_ALPHA / 2) * (size / interval) };
}

export function fitNaive(values: Float64Array): NaiveState {
  let s = 0;
  for (const v of values) s += v;
  return { kind: 'naive', level: s / Math.max(1, values.length) };
}
