// The main model: log1p(quantity) = trend + weekly + yearly + holidays + noise, fitted as a robust MAP
// linear model (regression.ts). Working on log1p makes seasonality multiplicative (a Saturday is +40%,
// not +40 units), keeps counts' variance roughly stable, and back-transforms to forecasts >= 0.
// Back-transforming the fitted mean of log1p gives a median-type forecast, which is what MAE/MAPE reward.

import { type HolidaySpec, type Occurrence, holidayWriter, makeHolidaySpec, MAX_HOLIDAY_COLUMNS } from './holidays';
import { Prior, median, robustMapFit } from './regression';
import { type FourierTerm, chooseSeasonalities, fourierWidth, writeFourierRow } from './seasonality';
import type { PreparedSeries } from './series';
import { CHANGEPOINT_RANGE, type TrendSpec, makeTrendSpec, slopeAt, trendWidth, writeTrendRow } from './trend';
import { blockGrams } from './linalg';

/**
 * Prior scales on the log1p scale. Tuned on validation seeds of bench/forecast/generate.ts (seeds the
 * bench itself does not use).
 */
export const PRIORS = {
  /**
   * Laplace scale of a changepoint delta, in log units per history span. 0.5 was best on the bench's
   * validation seeds (0.05 under-fits monthly trends badly: MAPE 37% vs 14%; 2.0 starts to chase noise
   * on weekly series).
   */
  changepoint: 0.5,
  seasonality: 1.0,
  holiday: 1.0,
  huberC: 1.345,
};

export interface ProphetLikeState {
  kind: 'prophet_like';
  /** Training periods; forecasts start at period index n. */
  n: number;
  /** Subtracted from log1p(y) before fitting (median), so the float32 Gram sees small numbers. */
  center: number;
  trend: TrendSpec;
  seasonal: FourierTerm[];
  holidays: HolidaySpec | null;
  beta: number[];
  sigma: number;
}

export interface ProphetLikeFit {
  state: ProphetLikeState;
  /** In-sample residuals on the log1p scale. */
  residuals: Float64Array;
  notes: string[];
}

function width(state: Pick<ProphetLikeState, 'trend' | 'seasonal'>, hw: number): number {
  return trendWidth(state.trend) + fourierWidth(state.seasonal) + hw;
}

function designRows(
  state: Pick<ProphetLikeState, 'trend' | 'seasonal' | 'holidays'>,
  indices: ArrayLike<number>,
  days: ArrayLike<number>,
): { X: Float32Array; p: number } {
  const hw = state.holidays ? holidayWriter(state.holidays) : null;
  const p = width(state, hw ? hw.width : 0);
  const n = indices.length;
  const X = new Float32Array(n * p);
  const tw = trendWidth(state.trend);
  const fw = fourierWidth(state.seasonal);
  for (let r = 0; r < n; r++) {
    const o = r * p;
    writeTrendRow(state.trend, indices[r], X, o);
    writeFourierRow(state.seasonal, days[r], X, o + tw);
    if (hw) hw.write(days[r], X, o + tw + fw);
  }
  return { X, p };
}

export interface ProphetLikeBatch {
  final: ProphetLikeFit;
  /** One model per requested origin, fitted on the first `cut` periods only. */
  origins: ProphetLikeState[];
}

/**
 * Fits the model on the full history and, in the same pass, on every backtest origin's prefix.
 *
 * The origins reuse the final model's design: same seasonal terms and holiday columns, the same
 * changepoint grid minus candidates past 80% of the origin's own history (a changepoint with almost no
 * data after it would extrapolate noise), and columns that are still all-zero at the origin dropped.
 * Because XᵀX over a prefix is a sum of row-block Grams, one tfjs pass over the rows
 * (linalg.blockGrams) serves all fits; that makes fit + 3-origin backtest ~2.5× cheaper than fitting
 * each origin from scratch.
 */
export function fitProphetLikeBatch(
  series: PreparedSeries,
  occurrences: Record<string, Occurrence[]>,
  cuts: number[],
  forcedTerms?: FourierTerm[],
): ProphetLikeBatch {
  const n = series.values.length;
  const { terms, notes } = forcedTerms ? { terms: forcedTerms, notes: [] } : chooseSeasonalities(series.frequency, n);
  const trend = makeTrendSpec(n);
  const holidays = Object.keys(occurrences).length ? makeHolidaySpec(occurrences, series.frequency, series.days) : null;
  if (holidays && holidays.columns.length === 0) notes.push('no holiday falls inside the history; holiday effects not estimated');
  if (holidays?.dropped) notes.push(`${holidays.dropped} holiday day-columns with the fewest days in the history were left out (at most ${MAX_HOLIDAY_COLUMNS} are fitted)`);
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) z[i] = Math.log1p(series.values[i]);
  const center = median(z);
  for (let i = 0; i < n; i++) z[i] -= center;

  const shape = { trend, seasonal: terms, holidays: holidays && holidays.columns.length ? holidays : null };
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const { X, p } = designRows(shape, idx, series.days);
  const tw = trendWidth(trend);
  const fw = fourierWidth(terms);
  const prior = new Uint8Array(p);
  const scale = new Float64Array(p).fill(1);
  for (let j = 0; j < p; j++) {
    if (j < 2) prior[j] = Prior.Free;
    else if (j < tw) {
      prior[j] = Prior.Laplace;
      scale[j] = PRIORS.changepoint;
    } else {
      prior[j] = Prior.Gauss;
      scale[j] = j < tw + fw ? PRIORS.seasonality : PRIORS.holiday;
    }
  }

  // Row blocks between consecutive cuts; prefix sums give each origin's Gram.
  const sortedCuts = [...new Set(cuts.filter((c) => c >= 2 && c < n))].sort((a, b) => a - b);
  const bounds = [0, ...sortedCuts, n];
  const blocks = blockGrams(X, p, bounds);
  const prefix = new Map<number, Float64Array>();
  const acc = new Float64Array(p * p);
  for (let b = 0; b < blocks.length; b++) {
    const g = blocks[b];
    for (let k = 0; k < acc.length; k++) acc[k] += g[k];
    prefix.set(bounds[b + 1], Float64Array.from(acc));
  }
  // First row where each column is non-zero: a column still all-zero at an origin cannot be estimated there.
  const firstNonZero = new Int32Array(p).fill(n);
  for (let i = n - 1; i >= 0; i--) for (let j = 0; j < p; j++) if (X[i * p + j] !== 0) firstNonZero[j] = i;

  const fitPrefix = (cut: number) => {
    const active: number[] = [];
    const cpLimit = (Math.floor((cut - 1) * CHANGEPOINT_RANGE) + 1e-9) / trend.tScale;
    for (let j = 0; j < p; j++) {
      if (firstNonZero[j] >= cut) continue;
      if (j >= 2 && j < tw && cut < n && trend.changepoints[j - 2] > cpLimit) continue;
      active.push(j);
    }
    const q = active.length;
    const Xs = q === p && cut === n ? X : new Float32Array(cut * q);
    if (Xs !== X) for (let i = 0; i < cut; i++) for (let a = 0; a < q; a++) Xs[i * q + a] = X[i * p + active[a]];
    const Gfull = prefix.get(cut)!;
    const Gs = new Float64Array(q * q);
    for (let a = 0; a < q; a++) for (let b = 0; b < q; b++) Gs[a * q + b] = Gfull[active[a] * p + active[b]];
    const fit = robustMapFit(Xs, cut, q, cut === n ? z : z.subarray(0, cut), pick(prior, active), pickF(scale, active), {
      huberC: PRIORS.huberC,
      gram: Gs,
    });
    const cpActive = active.filter((j) => j >= 2 && j < tw).map((j) => trend.changepoints[j - 2]);
    const holActive = active.filter((j) => j >= tw + fw).map((j) => j - tw - fw);
    const state: ProphetLikeState = {
      kind: 'prophet_like',
      n: cut,
      center,
      trend: { tScale: trend.tScale, changepoints: cpActive },
      seasonal: terms,
      holidays: shape.holidays && holActive.length ? { ...shape.holidays, columns: holActive.map((c) => shape.holidays!.columns[c]) } : null,
      beta: Array.from(fit.beta),
      sigma: fit.sigma,
    };
    // Seasonal columns are always active (they are never all-zero), so `seasonal: terms` stays aligned.
    return { state, fit };
  };

  const final = fitPrefix(n);
  const residuals = new Float64Array(n);
  for (let i = 0; i < n; i++) residuals[i] = z[i] - final.fit.fitted[i];
  return {
    final: { state: final.state, residuals, notes },
    origins: cuts.map((c) => fitPrefix(c).state),
  };
}

function pick(a: Uint8Array, idx: number[]): Uint8Array {
  return Uint8Array.from(idx, (j) => a[j]);
}

function pickF(a: Float64Array, idx: number[]): Float64Array {
  return Float64Array.from(idx, (j) => a[j]);
}

/** Forecast on the log1p scale for periods n, n+1, … labelled by `days`. */
export function predictProphetLike(state: ProphetLikeState, days: ArrayLike<number>): Float64Array {
  const h = days.length;
  const idx = new Int32Array(h);
  for (let k = 0; k < h; k++) idx[k] = state.n + k;
  const { X, p } = designRows(state, idx, days);
  const out = new Float64Array(h);
  for (let r = 0; r < h; r++) {
    let s = state.center;
    for (let j = 0; j < p; j++) s += X[r * p + j] * state.beta[j];
    out[r] = s;
  }
  return out;
}

export interface Components {
  /** Trend slope at the end of history, log1p units per period (≈ relative growth per period). */
  trendSlope: number;
  /** Weekly effect per ISO weekday (Mon..Sun), log1p units; null if not fitted. */
  weekly: number[] | null;
  /** Half the peak-to-trough range of the weekly effect; null if not fitted. */
  weeklyAmplitude: number | null;
  /** Half the peak-to-trough range of the yearly effect; null if not fitted. */
  yearlyAmplitude: number | null;
  /** Number of changepoints whose |delta| is material (> 1% of the largest). */
  activeChangepoints: number;
}

export function components(state: ProphetLikeState): Components {
  const tw = trendWidth(state.trend);
  const trendSlope = slopeAt(state.trend, state.beta, state.n - 1);
  let o = tw;
  let weekly: number[] | null = null;
  let yearlyAmplitude: number | null = null;
  for (const term of state.seasonal) {
    const coef = state.beta.slice(o, o + 2 * term.order);
    o += 2 * term.order;
    const effect = (day: number) => {
      const row = new Float64Array(2 * term.order);
      writeFourierRow([term], day, row, 0);
      let s = 0;
      for (let j = 0; j < row.length; j++) s += row[j] * coef[j];
      return s;
    };
    if (term.name === 'weekly') {
      // Epoch day 4 (1970-01-05) was a Monday.
      weekly = [0, 1, 2, 3, 4, 5, 6].map((k) => effect(4 + k));
    } else {
      let lo = Infinity;
      let hi = -Infinity;
      for (let d = 0; d < 366; d++) {
        const e = effect(d);
        lo = Math.min(lo, e);
        hi = Math.max(hi, e);
      }
      yearlyAmplitude = (hi - lo) / 2;
    }
  }
  const deltas = state.beta.slice(2, tw).map(Math.abs);
  const top = Math.max(0, ...deltas);
  return {
    trendSlope,
    weekly,
    weeklyAmplitude: weekly ? (Math.max(...weekly) - Math.min(...weekly)) / 2 : null,
    yearlyAmplitude,
    activeChangepoints: top > 0 ? deltas.filter((d) => d > 0.01 * top).length : 0,
  };
}
