// Typed errors. Shape mirrors @millrace/runtime's MillraceError (code, retryable,
// httpStatus, field) so services classify them without this package depending
// on the runtime. Data and validation errors are never retryable: the same input
// fails the same way.

export interface MlErrorOptions {
  cause?: unknown;
  field?: string;
  details?: Record<string, unknown>;
}

export class MlError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly httpStatus: number;
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(message: string, code: string, httpStatus: number, retryable: boolean, opts: MlErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = httpStatus;
    this.retryable = retryable;
    if (opts.field !== undefined) this.field = opts.field;
    if (opts.details !== undefined) this.details = opts.details;
  }
}

/** Malformed CSV. `line` is the 1-based physical line where the bad record starts. */
export class CsvFormatError extends MlError {
  readonly line: number;
  constructor(message: string, line: number, opts: MlErrorOptions = {}) {
    super(`${message} at line ${line}`, "CSV_FORMAT", 400, false, { ...opts, details: { line, ...opts.details } });
    this.line = line;
  }
}

/** A pipeline spec that cannot run. `field` is a path like `pipeline[3].input.columns[1]`. */
export class PipelineValidationError extends MlError {
  declare readonly field: string;
  constructor(message: string, field: string, opts: MlErrorOptions = {}) {
    super(`${field}: ${message}`, "PIPELINE_VALIDATION", 400, false, { ...opts, field });
  }
}

/** A prediction row that is missing a required column or carries the wrong type. */
export class RowValidationError extends MlError {
  readonly row: number;
  readonly column: string;
  constructor(message: string, row: number, column: string, opts: MlErrorOptions = {}) {
    super(`row ${row}, column '${column}': ${message}`, "ROW_VALIDATION", 400, false, {
      ...opts,
      field: `rows[${row}].${column}`,
      details: { row, column, ...opts.details },
    });
    this.row = row;
    this.column = column;
  }
}

/** Well-formed input whose data cannot be used (e.g. target column all null). */
export class DataError extends MlError {
  constructor(message: string, opts: MlErrorOptions = {}) {
    super(message, "DATA", 400, false, opts);
  }
}

/** Training stopped because its AbortSignal fired. */
export class TrainingAbortedError extends MlError {
  constructor(message = "training aborted", opts: MlErrorOptions = {}) {
    super(message, "ABORTED", 499, false, opts);
  }
}

/** The training thread overran its hard time limit and was terminated. */
export class HardTimeLimitError extends MlError {
  readonly limitMs: number;
  constructor(limitMs: number, opts: MlErrorOptions = {}) {
    super(`training exceeded the hard time limit of ${limitMs} ms; thread terminated`, "HARD_TIME_LIMIT", 500, false, {
      ...opts,
      details: { limit_ms: limitMs, ...opts.details },
    });
    this.limitMs = limitMs;
  }
}

/** A corrupt or unsupported model artifact. */
export class ArtifactError extends MlError {
  constructor(message: string, opts: MlErrorOptions = {}) {
    super(message, "ARTIFACT", 422, false, opts);
  }
}

/** Anything with `aborted` (AbortSignal, or a flag shared with a training thread). */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

export function throwIfAborted(signal: AbortLike | undefined): void {
  if (signal?.aborted) throw new TrainingAbortedError();
}
