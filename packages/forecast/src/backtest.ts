// Rolling-origin backtest and accuracy metrics.
//
// Origins: the last `horizon` periods are held out, then the `horizon` before that, … up to
// `maxOrigins` windows, each origin training on at least half of the history or two seasonal cycles,
// whichever is less (so a short history gets fewer origins rather than absurdly short training sets). If history is shorter than 2×horizon the
// window shrinks to ⌊n/2⌋ periods. At every origin the model is re-fitted on the
// truncated history with the SAME method and seasonal terms as the final model (model.ts), so the errors
// describe the model that will forecast (a 2-year daily fit has yearly seasonality; its origins, a few
// weeks short of 2 years, would otherwise be fitted without it and look worse than the model is).
//
// Metrics are pooled over every backtest point:
//   MAE   = mean |a − f|
//   MAPE  = 100 · mean |a − f| / a  over points with a > 0 only. Zero actuals have no defined percentage
//           error; skipping them (instead of adding ε) keeps one zero day from producing a 10⁶ % MAPE.
//           null if every actual is zero.
//   sMAPE = 100 · mean 2|a − f| / (|a| + |f|), a term with a = f = 0 counts as 0 (perfect).

import { ForecastAbortedError } from './errors';
import type { Occurrence } from './holidays';
import { MIN_SEASONAL, type ModelState, fitCore, predictCore } from './model';
import { type PreparedSeries, futureDays, truncateSeries } from './series';
import type { Accuracy, Frequency, Method } from './types';

export interface MetricSums {
  absErr: number;
  count: number;
  ape: number;
  apeCount: number;
  sape: number;
}

export function emptySums(): MetricSums {
  return { absErr: 0, count: 0, ape: 0, apeCount: 0, sape: 0 };
}

export function addPoint(s: MetricSums, actual: number, forecast: number): void {
  const err = Math.abs(actual - forecast);
  s.absErr += err;
  s.count++;
  if (actual > 0) {
    s.ape += err / actual;
    s.apeCount++;
  }
  const denom = Math.abs(actual) + Math.abs(forecast);
  s.sape += denom > 0 ? (2 * err) / denom : 0;
}

export function finishMetrics(s: MetricSums): { mae: number | null; mape: number | null; smape: number | null } {
  return {
    mae: s.count ? s.absErr / s.count : null,
    mape: s.apeCount ? (100 * s.ape) / s.apeCount : null,
    smape: s.count ? (100 * s.sape) / s.count : null,
  };
}

/** Point metrics for one forecast vs actuals (same conventions as the backtest). */
export function accuracyMetrics(actual: ArrayLike<number>, forecast: ArrayLike<number>) {
  const s = emptySums();
  for (let i = 0; i < actual.length; i++) addPoint(s, actual[i], forecast[i]);
  return finishMetrics(s);
}

export interface OriginPlan {
  horizon: number;
  /** Training lengths, most recent origin first. */
  cuts: number[];
}

export function planOrigins(n: number, horizon: number, maxOrigins: number, freq: Frequency): OriginPlan {
  const h = Math.max(1, Math.min(horizon, Math.floor(n / 2)));
  // Half the history, or two seasonal cycles if that is less: enough for the seasonal model to be fitted.
  const minTrain = Math.max(2, Math.min(Math.ceil(n / 2), MIN_SEASONAL[freq]));
  const cuts: number[] = [];
  for (let k = 1; k <= maxOrigins; k++) {
    const c = n - k * h;
    if (c < minTrain) break;
    cuts.push(c);
  }
  return { horizon: h, cuts };
}

export interface BacktestRun {
  accuracy: Accuracy;
  /** Per origin, per horizon step: log1p(actual) − predicted center (log1p models only). */
  logErrors: number[][];
}

/** Generator so callers can check an AbortSignal between origins. */
export function* runBacktest(
  series: PreparedSeries,
  occurrences: Record<string, Occurrence[]>,
  like: { method: Method; model: ModelState; originModels?: ModelState[] },
  plan: OriginPlan,
  signal?: AbortSignal,
): Generator<void, BacktestRun> {
  const sums = emptySums();
  const logErrors: number[][] = [];
  for (let o = 0; o < plan.cuts.length; o++) {
    const cut = plan.cuts[o];
    if (signal?.aborted) throw new ForecastAbortedError();
    const train = truncateSeries(series, cut);
    // The regression model's origins come pre-fitted from the same design pass (prophetLike.ts).
    const model = like.originModels?.[o] ?? fitCore(train, occurrences, plan.horizon, like).model;
    const days = futureDays(train.calendar, plan.horizon);
    const pred = predictCore(model, days);
    const errs: number[] = [];
    for (let h = 0; h < plan.horizon; h++) {
      const a = series.values[cut + h];
      addPoint(sums, a, pred.yhat[h]);
      errs.push(Math.log1p(a) - pred.center[h]);
    }
    if (model.kind !== 'croston') logErrors.push(errs);
    yield;
  }
  const m = finishMetrics(sums);
  return {
    accuracy: { ...m, horizon: plan.horizon, origins: plan.cuts.length },
    logErrors,
  };
}
