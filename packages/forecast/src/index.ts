export type { SalesPoint, ForecastOptions, ForecastPoint, Accuracy, Method, Frequency, Holiday } from './types';
export { ForecastInputError, ForecastAbortedError, type ForecastInputReason } from './errors';
export {
  fitForecaster,
  fitForecasterAsync,
  backtest,
  FittedForecaster,
  MODEL_FORMAT,
  type ForecasterJSON,
  type BacktestReport,
  type BacktestPoint,
} from './forecaster';
export { accuracyMetrics } from './backtest';
export type { Components } from './prophetLike';
