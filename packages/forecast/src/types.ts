export type Frequency = 'D' | 'W' | 'M';

export interface SalesPoint {
  /** Calendar date, YYYY-MM-DD. For weekly/monthly series, the date that labels the period. */
  date: string;
  /** Units sold; finite and >= 0. */
  quantity: number;
}

export interface Holiday {
  name: string;
  /** YYYY-MM-DD. Include future occurrences too, or the forecast cannot use them. */
  date: string;
  /** Days before the date that share the effect, as a number <= 0 (Prophet convention). Default 0. */
  lowerWindow?: number;
  /** Days after the date that share the effect, >= 0. Default 0. */
  upperWindow?: number;
}

export interface ForecastOptions {
  /** Periods to backtest on and the default for forecast(). Default D: 28, W: 13, M: 12. */
  horizon?: number;
  holidays?: Holiday[];
  /** Inferred from date spacing if absent. Forcing a coarser frequency than the data aggregates (sums) it. */
  frequency?: Frequency;
  /** Accepted and recorded; the fit itself is deterministic (no sampling), so results never depend on it. */
  seed?: number;
  /** Checked between fitting stages. The sync fit can only see an already-aborted signal; use fitForecasterAsync for timeouts. */
  signal?: AbortSignal;
  /** Rolling-origin backtest windows (each `horizon` long). Default 3; 0 disables the backtest. */
  backtestOrigins?: number;
}

export type Method = 'prophet_like' | 'damped_trend' | 'seasonal_naive' | 'croston' | 'naive';

export interface ForecastPoint {
  date: string;
  yhat: number;
  yhat_lower: number;
  yhat_upper: number;
  yhat_lower_95: number;
  yhat_upper_95: number;
}

export interface Accuracy {
  /** Mean absolute error in units, pooled over all backtest points. null when no backtest was possible. */
  mae: number | null;
  /**
   * Mean absolute percentage error in percent over backtest points whose actual is > 0
   * (zero actuals are skipped: their APE is undefined). null when every actual was zero or no backtest ran.
   */
  mape: number | null;
  /** Symmetric MAPE in percent: 200|a-f|/(|a|+|f|), a point with a = f = 0 counts as 0. */
  smape: number | null;
  /** Periods ahead each backtest window covered (can be shorter than the requested horizon for short histories). */
  horizon: number;
  /** Number of rolling origins actually used (0 = no backtest). */
  origins: number;
}
