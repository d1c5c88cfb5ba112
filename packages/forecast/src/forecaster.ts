// Public entry points: fitForecaster (sync), fitForecasterAsync, FittedForecaster (JSON round-trip),
// backtest (held-out evaluation with interval coverage).

import { formatDay } from './calendar';
import { ForecastAbortedError, ForecastInputError } from './errors';
import { absoluteBounds, boundsAt, buildLogIntervals, type IntervalSpec } from './intervals';
import { type Occurrence, parseHolidays } from './holidays';
import { type ModelState, fitCore, predictCore, recentWindow } from './model';
import { type Components, components } from './prophetLike';
import { accuracyMetrics, planOrigins, runBacktest } from './backtest';
import { DEFAULT_HORIZON, type PeriodCalendar, type PreparedSeries, futureDays, prepareSeries } from './series';
import type { Accuracy, ForecastOptions, ForecastPoint, Frequency, Method, SalesPoint } from './types';

export const MODEL_FORMAT = 'millrace.forecast/v1';
const MODEL_KINDS: string[] = ['prophet_like', 'damped_trend', 'seasonal_naive', 'croston', 'naive'];

/** Plain-JSON form of a fitted model; everything forecast() needs, no history. */
export interface ForecasterJSON {
  format: typeof MODEL_FORMAT;
  method: Method;
  frequency: Frequency;
  horizon: number;
  notes: string[];
  accuracy: Accuracy;
  calendar: PeriodCalendar;
  model: ModelState;
  intervals: IntervalSpec;
  /** Last date of history, YYYY-MM-DD (informational). */
  lastDate: string;
  seed?: number;
}

export class FittedForecaster {
  readonly method: Method;
  readonly notes: readonly string[];
  readonly accuracy: Accuracy;
  readonly frequency: Frequency;
  /** Default number of periods for forecast(); also the backtest horizon that was requested. */
  readonly horizon: number;
  readonly lastDate: string;
  private readonly json: ForecasterJSON;

  private constructor(json: ForecasterJSON) {
    this.json = json;
    this.method = json.method;
    this.notes = Object.freeze([...json.notes]);
    this.accuracy = Object.freeze({ ...json.accuracy });
    this.frequency = json.frequency;
    this.horizon = json.horizon;
    this.lastDate = json.lastDate;
  }

  /** @internal */
  static create(json: ForecasterJSON): FittedForecaster {
    return new FittedForecaster(json);
  }

  /**
   * Forecast the next `periods` periods at the series' frequency (days for daily, weeks for weekly,
   * months for monthly). Defaults to the fit's horizon. All values are >= 0.
   */
  forecast(periods: number = this.horizon): ForecastPoint[] {
    if (!Number.isInteger(periods) || periods < 0 || periods > 100_000) {
      throw new ForecastInputError('BAD_OPTION', `periods must be an integer in 0..100000, got ${periods}`);
    }
    const days = futureDays(this.json.calendar, periods);
    const pred = predictCore(this.json.model, days);
    const out: ForecastPoint[] = [];
    for (let k = 0; k < periods; k++) {
      const b = boundsAt(this.json.intervals, pred.center[k], k + 1);
      const yhat = pred.yhat[k];
      out.push({
        date: formatDay(days[k]),
        yhat,
        // Guard the ordering against rounding at the zero floor.
        yhat_lower: Math.min(b.lo80, yhat),
        yhat_upper: Math.max(b.hi80, yhat),
        yhat_lower_95: Math.min(b.lo95, b.lo80, yhat),
        yhat_upper_95: Math.max(b.hi95, b.hi80, yhat),
      });
    }
    return out;
  }

  /** Fitted effects of the regression model (null for the fallback methods). */
  components(): Components | null {
    return this.json.model.kind === 'prophet_like' ? components(this.json.model) : null;
  }

  toJSON(): ForecasterJSON {
    return structuredClone(this.json);
  }

  /** Accepts the object from toJSON() or its JSON string. */
  static fromJSON(input: ForecasterJSON | string): FittedForecaster {
    let obj: unknown = input;
    if (typeof input === 'string') {
      try {
        obj = JSON.parse(input);
      } catch {
        throw new ForecastInputError('BAD_MODEL', 'model JSON does not parse');
      }
    }
    const j = obj as Partial<ForecasterJSON> | null;
    if (!j || typeof j !== 'object' || j.format !== MODEL_FORMAT) {
      throw new ForecastInputError('BAD_MODEL', `not a ${MODEL_FORMAT} model`);
    }
    if (!j.model || !j.intervals || !j.calendar || !j.accuracy || !Array.isArray(j.notes)) {
      throw new ForecastInputError('BAD_MODEL', 'model JSON is missing fields');
    }
    if (!MODEL_KINDS.includes(j.model.kind) || (j.intervals.space !== 'log1p' && j.intervals.space !== 'absolute')) {
      throw new ForecastInputError('BAD_MODEL', `unknown model kind ${String(j.model.kind)}`);
    }
    return new FittedForecaster(structuredClone(j as ForecasterJSON));
  }
}

interface Plan {
  series: PreparedSeries;
  occurrences: Record<string, Occurrence[]>;
  horizon: number;
  origins: number;
}

function plan(history: SalesPoint[], opts: ForecastOptions): Plan {
  if (opts === null || typeof opts !== 'object') throw new ForecastInputError('BAD_OPTION', 'options must be an object');
  const series = prepareSeries(history, opts.frequency);
  const horizon = opts.horizon ?? DEFAULT_HORIZON[series.frequency];
  if (!Number.isInteger(horizon) || horizon < 1 || horizon > 10_000) {
    throw new ForecastInputError('BAD_OPTION', `horizon must be an integer in 1..10000, got ${String(opts.horizon)}`);
  }
  const origins = opts.backtestOrigins ?? 3;
  if (!Number.isInteger(origins) || origins < 0 || origins > 50) {
    throw new ForecastInputError('BAD_OPTION', `backtestOrigins must be an integer in 0..50, got ${String(opts.backtestOrigins)}`);
  }
  return { series, occurrences: parseHolidays(opts.holidays), horizon, origins };
}

function* fitSteps(history: SalesPoint[], opts: ForecastOptions): Generator<void, FittedForecaster> {
  const { series, occurrences, horizon, origins } = plan(history, opts);
  const originPlan = planOrigins(series.values.length, horizon, origins, series.frequency);
  const core = fitCore(series, occurrences, horizon, undefined, originPlan.cuts);
  yield;
  const bt = yield* runBacktest(series, occurrences, core, originPlan, opts.signal);
  const notes = [...series.notes, ...core.notes];
  if (bt.accuracy.origins === 0) notes.push('history too short to backtest: accuracy unknown, intervals from in-sample fit only');
  else if (bt.accuracy.horizon < horizon) {
    notes.push(`backtest window shortened to ${bt.accuracy.horizon} periods (history shorter than 2×horizon)`);
  }

  let intervals: IntervalSpec;
  if (core.residuals === null) {
    const y = series.values;
    intervals = { space: 'absolute', bounds: absoluteBounds(y.subarray(Math.max(0, y.length - recentWindow(series.frequency)))) };
  } else {
    intervals = buildLogIntervals({
      residuals: core.residuals,
      logErrors: bt.logErrors,
      analyticGrowth: core.analyticGrowth,
      extraVariance: core.extraVariance,
      horizon,
    });
  }
  const json: ForecasterJSON = {
    format: MODEL_FORMAT,
    method: core.method,
    frequency: series.frequency,
    horizon,
    notes,
    accuracy: bt.accuracy,
    calendar: series.calendar,
    model: core.model,
    intervals,
    lastDate: formatDay(series.calendar.lastDay),
  };
  if (opts.seed !== undefined) json.seed = opts.seed;
  return FittedForecaster.create(json);
}

/**
 * Fits one SKU synchronously (≈ 50–100 ms for 3 years of daily history, backtest included).
 * Sync because the work is CPU-bound and short; run SKUs in parallel across processes/workers.
 * The signal is checked between stages, so only an already-aborted signal stops a sync fit.
 * @throws ForecastInputError for bad history/options, ForecastAbortedError if the signal is aborted.
 */
export function fitForecaster(history: SalesPoint[], opts: ForecastOptions = {}): FittedForecaster {
  const it = fitSteps(history, opts);
  for (;;) {
    if (opts.signal?.aborted) throw new ForecastAbortedError();
    const r = it.next();
    if (r.done) return r.value;
  }
}

/**
 * Same fit, yielding to the event loop between stages so timers (AbortSignal.timeout) and I/O run
 * and an abort takes effect within one stage (~20 ms).
 */
export async function fitForecasterAsync(history: SalesPoint[], opts: ForecastOptions = {}): Promise<FittedForecaster> {
  const it = fitSteps(history, opts);
  for (;;) {
    if (opts.signal?.aborted) throw new ForecastAbortedError();
    const r = it.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

export interface BacktestPoint {
  /** Last date of the training history for this window. */
  origin: string;
  date: string;
  actual: number;
  yhat: number;
  yhat_lower: number;
  yhat_upper: number;
  yhat_lower_95: number;
  yhat_upper_95: number;
}

export interface BacktestReport extends Accuracy {
  /** Share of held-out actuals inside the 80% / 95% interval (0..1); null with no windows. */
  coverage80: number | null;
  coverage95: number | null;
  /** Method chosen at each origin, most recent first. */
  methods: Method[];
  points: BacktestPoint[];
}

/**
 * Held-out evaluation: for each rolling origin, runs the complete fitForecaster (its own nested
 * backtest and intervals included) on the history up to the origin and scores the next window,
 * including interval coverage. Costs (origins + 1)× a fit; fitForecaster's `accuracy` is the cheap
 * point-only version of this.
 */
export function backtest(history: SalesPoint[], opts: ForecastOptions = {}): BacktestReport {
  const { series, horizon, origins } = plan(history, opts);
  const n = series.values.length;
  const { horizon: h, cuts } = planOrigins(n, horizon, Math.max(1, origins), series.frequency);
  const points: BacktestPoint[] = [];
  const methods: Method[] = [];
  let in80 = 0;
  let in95 = 0;
  const actual: number[] = [];
  const fc: number[] = [];
  let used = 0;
  for (const cut of cuts) {
    if (opts.signal?.aborted) throw new ForecastAbortedError();
    const trainHistory: SalesPoint[] = [];
    for (let i = 0; i < cut; i++) trainHistory.push({ date: formatDay(series.days[i]), quantity: series.values[i] });
    const model = fitForecaster(trainHistory, { ...opts, horizon: h, frequency: series.frequency });
    methods.push(model.method);
    const f = model.forecast(h);
    for (let j = 0; j < h; j++) {
      const a = series.values[cut + j];
      const p = f[j];
      if (a >= p.yhat_lower && a <= p.yhat_upper) in80++;
      if (a >= p.yhat_lower_95 && a <= p.yhat_upper_95) in95++;
      actual.push(a);
      fc.push(p.yhat);
      points.push({ origin: formatDay(series.days[cut - 1]), actual: a, ...p });
    }
    used++;
  }
  const m = accuracyMetrics(actual, fc);
  const total = actual.length;
  return {
    ...m,
    horizon: h,
    origins: used,
    coverage80: total ? in80 / total : null,
    coverage95: total ? in95 / total : null,
    methods,
    points,
  };
}
