/** Why an input was rejected; stable strings callers can switch on. */
export type ForecastInputReason =
  | 'EMPTY_HISTORY'
  | 'BAD_DATE'
  | 'BAD_QUANTITY'
  | 'NEGATIVE_QUANTITY'
  | 'BAD_OPTION'
  | 'BAD_MODEL';

/** Rejected input: empty history, unparsable dates, negative or non-finite quantities, bad options, bad JSON model. */
export class ForecastInputError extends Error {
  readonly code = 'FORECAST_INPUT' as const;
  readonly reason: ForecastInputReason;
  /** Index into the history array when the problem is one point. */
  readonly index?: number;
  constructor(reason: ForecastInputReason, message: string, index?: number) {
    super(message);
    this.name = 'ForecastInputError';
    this.reason = reason;
    if (index !== undefined) this.index = index;
  }
}

/** The caller's AbortSignal fired before fitting finished. */
export class ForecastAbortedError extends Error {
  readonly code = 'FORECAST_ABORTED' as const;
  constructor(message = 'forecast fit aborted') {
    super(message);
    this.name = 'ForecastAbortedError';
  }
}
