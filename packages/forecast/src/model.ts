// Method choice and dispatch. One place decides which model a series gets, so the final fit and every
// backtest origin follow exactly the same procedure.

import {
  type CrostonState,
  type DampedState,
  type NaiveState,
  type SeasonalNaiveState,
  dampedGrowth,
  fitCroston,
  fitDampedTrend,
  fitNaive,
  fitSeasonalNaive,
  predictDamped,
  predictSeasonalNaive,
  seasonalNaiveGrowth,
  zeroShare,
} from './fallback';
import type { Occurrence } from './holidays';
import { type ProphetLikeState, fitProphetLikeBatch, predictProphetLike } from './prophetLike';
import { type PreparedSeries, SEASON_LENGTH } from './series';
import { trendChangeVariance } from './trend';
import type { Frequency, Method } from './types';

export type ModelState = ProphetLikeState | DampedState | SeasonalNaiveState | CrostonState | NaiveState;

export interface CoreFit {
  method: Method;
  model: ModelState;
  /** In-sample residuals on log1p (one-step for smoothing models); null for croston. */
  residuals: Float64Array | null;
  /** Analytic interval growth for h = 1..H (1 where the model has none). */
  analyticGrowth: number[];
  /** Variance (log1p units²) to add in quadrature per horizon, e.g. future trend changes. */
  extraVariance: number[];
  /** Models fitted on backtest prefixes in the same pass (regression model only), aligned with `cuts`. */
  originModels?: ModelState[];
  notes: string[];
}

/** Share of zero periods at or above which a series is treated as intermittent. */
export const INTERMITTENT_ZERO_SHARE = 0.5;
/** Fewer periods than this and only a mean makes sense. */
export const MIN_PERIODS = 4;
const RECENT_WINDOW: Record<Frequency, number> = { D: 365, W: 52, M: 24 };
/** Two cycles of the shortest seasonality that applies to the frequency. */
export const MIN_SEASONAL: Record<Frequency, number> = { D: 14, W: 104, M: 24 };

export function recentWindow(freq: Frequency): number {
  return RECENT_WINDOW[freq];
}

/**
 * Fits one series. Without `like`, picks the method from the data (rules in the README and
 * fallback.ts / seasonality.ts); for the regression model the backtest prefixes in `cuts` are fitted in
 * the same pass (`originModels`). With `like` (backtest origins of the other methods), re-fits the same
 * method on the shorter history, so the backtest measures the model that will actually forecast.
 */
export function fitCore(
  series: PreparedSeries,
  occurrences: Record<string, Occurrence[]>,
  H: number,
  like?: { method: Method; model: ModelState },
  cuts: number[] = [],
): CoreFit {
  const y = series.values;
  const n = y.length;
  const freq = series.frequency;
  const notes: string[] = [];
  let method: Method;
  if (like) method = n < MIN_PERIODS && like.method !== 'croston' ? 'naive' : like.method;
  else if (n < MIN_PERIODS) {
    method = 'naive';
    notes.push(`only ${n} period(s) of history: forecasting their mean (naive); intervals are wide and rough`);
  } else {
    const zs = zeroShare(y, RECENT_WINDOW[freq]);
    if (zs >= INTERMITTENT_ZERO_SHARE) {
      method = 'croston';
      notes.push(`intermittent demand: ${(zs * 100).toFixed(0)}% of recent periods have zero sales, using Croston (SBA)`);
    } else if (n < MIN_SEASONAL[freq]) {
      method = 'damped_trend';
      notes.push(
        `short history (${n} ${unit(freq)}; seasonality needs two cycles = ${MIN_SEASONAL[freq]}): using damped trend without seasonality`,
      );
    } else method = 'prophet_like';
  }
  const m = SEASON_LENGTH[freq];
  if (method === 'seasonal_naive' && n < m) method = 'damped_trend';

  switch (method) {
    case 'naive': {
      const model = fitNaive(y);
      const residuals = Float64Array.from(y, (v) => Math.log1p(v) - Math.log1p(model.level));
      const analyticGrowth = ones(H).map((_, i) => Math.sqrt(1 + (i + 1) / n));
      return { method, model, residuals, analyticGrowth, extraVariance: zeros(H), notes };
    }
    case 'croston':
      return { method, model: fitCroston(y), residuals: null, analyticGrowth: ones(H), extraVariance: zeros(H), notes };
    case 'damped_trend': {
      const fit = fitDampedTrend(y);
      return { method, model: fit.state, residuals: fit.residuals, analyticGrowth: dampedGrowth(fit.state, H), extraVariance: zeros(H), notes };
    }
    case 'seasonal_naive': {
      const fit = fitSeasonalNaive(y, m);
      return { method, model: fit.state, residuals: fit.residuals, analyticGrowth: seasonalNaiveGrowth(m, H), extraVariance: zeros(H), notes };
    }
    case 'prophet_like': {
      const terms =
        like?.model.kind === 'prophet_like'
          ? like.model.seasonal.filter((t) => n * periodDays(freq) >= t.period)
          : undefined;
      try {
        const batch = fitProphetLikeBatch(series, occurrences, like ? [] : cuts, terms);
        const fit = batch.final;
        notes.push(...fit.notes);
        const extraVariance = trendChangeVariance(fit.state.trend, fit.state.beta, fit.state.n, H);
        return {
          method,
          model: fit.state,
          residuals: fit.residuals,
          analyticGrowth: ones(H),
          extraVariance,
          notes,
          ...(like ? {} : { originModels: batch.origins }),
        };
      } catch (err) {
        notes.push(`regression fit failed (${(err as Error).message}); using seasonal naive`);
        const fit = fitSeasonalNaive(y, Math.min(m, n));
        return {
          method: 'seasonal_naive',
          model: fit.state,
          residuals: fit.residuals,
          analyticGrowth: seasonalNaiveGrowth(m, H),
          extraVariance: zeros(H),
          notes,
        };
      }
    }
  }
}

/** Approximate days per period, to compare history length with a seasonal period in days. */
function periodDays(freq: Frequency): number {
  return freq === 'D' ? 1 : freq === 'W' ? 7 : 365.25 / 12;
}

export interface CorePrediction {
  /** Point forecast in quantity units (>= 0). */
  yhat: Float64Array;
  /** The same point on the interval scale: log1p for every model but croston, units for croston. */
  center: Float64Array;
}

/** Forecast the periods labelled `days` (the periods right after the model's history). */
export function predictCore(model: ModelState, days: number[]): CorePrediction {
  const H = days.length;
  let center: Float64Array;
  switch (model.kind) {
    case 'prophet_like':
      center = predictProphetLike(model, days);
      break;
    case 'damped_trend':
      center = predictDamped(model, H);
      break;
    case 'seasonal_naive':
      center = Float64Array.from(predictSeasonalNaive(model, H), Math.log1p);
      break;
    case 'naive':
      center = new Float64Array(H).fill(Math.log1p(model.level));
      break;
    case 'croston': {
      const v = new Float64Array(H).fill(model.rate);
      return { yhat: v, center: Float64Array.from(v) };
    }
  }
  return { yhat: Float64Array.from(center, (z) => Math.max(0, Math.expm1(z))), center };
}

function zeros(H: number): number[] {
  return new Array<number>(Math.max(0, H)).fill(0);
}

function ones(H: number): number[] {
  return new Array<number>(Math.max(0, H)).fill(1);
}

function unit(freq: Frequency): string {
  return freq === 'D' ? 'days' : freq === 'W' ? 'weeks' : 'months';
}
