/**
 * Typed errors. Callers branch on `code`, never on message text.
 */
export abstract class ForestError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad X / y: empty, ragged, NaN/Infinity, wrong lengths, non-integer class codes. */
export class ForestInputError extends ForestError {
  readonly code = 'FOREST_INPUT' as const;
}

/** Bad hyper-parameter (negative depth, unknown criterion, ...). */
export class ForestParamError extends ForestError {
  readonly code = 'FOREST_PARAM' as const;
}

/** predict / treeShap / toJSON called before fit. */
export class ForestNotFittedError extends ForestError {
  readonly code = 'FOREST_NOT_FITTED' as const;
}

/** fit cancelled through its AbortSignal. `name` is 'AbortError' like DOM aborts. */
export class ForestAbortError extends ForestError {
  readonly code = 'FOREST_ABORTED' as const;
  constructor(message = 'fit aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** fromJSON got something that is not a model this version can read. */
export class ForestFormatError extends ForestError {
  readonly code = 'FOREST_FORMAT' as const;
}

/** A worker thread of a parallel fit (fitAsync with nJobs > 1) died or threw. */
export class ForestWorkerError extends ForestError {
  readonly code = 'FOREST_WORKER' as const;
}
