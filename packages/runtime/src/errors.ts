// Typed errors. The class name says what the caller should do; `code` is
// machine-readable; `retryable` tells workers whether another attempt can help.

export interface ErrorOptions {
  cause?: unknown;
  field?: string;
  details?: Record<string, unknown>;
}

export class MillraceError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly field?: string;
  readonly details?: Record<string, unknown>;
  /** HTTP status the gateway answers with. */
  readonly httpStatus: number;

  constructor(message: string, code: string, httpStatus: number, retryable: boolean, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = httpStatus;
    this.retryable = retryable;
    this.field = opts.field;
    this.details = opts.details;
  }
}

/** Bad input: reject at once, never retry. */
export class ValidationError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "VALIDATION", 400, false, opts);
  }
}

/** The input was well formed but the data cannot be used (e.g. empty target). */
export class DataError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "DATA", 400, false, opts);
  }
}

export class NotFoundError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "NOT_FOUND", 404, false, opts);
  }
}

export class ConflictError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "CONFLICT", 409, false, opts);
  }
}

/** A per-tenant quota (e.g. schedules) is used up: delete something first, or raise the quota. */
export class QuotaExceededError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "QUOTA_EXCEEDED", 409, false, opts);
  }
}

export class GoneError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "GONE", 410, false, opts);
  }
}

export class PayloadTooLargeError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "PAYLOAD_TOO_LARGE", 413, false, opts);
  }
}

export class UnauthorizedError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "UNAUTHORIZED", 401, false, opts);
  }
}

export class IdempotencyConflictError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "IDEMPOTENCY_CONFLICT", 422, false, opts);
  }
}

/** A dependency (NATS, Postgres, another service) did not answer: retry later. */
export class DependencyUnavailableError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "DEPENDENCY_UNAVAILABLE", 503, true, opts);
  }
}

/** A transient failure inside a job: the worker retries it with backoff. */
export class TransientError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "TRANSIENT", 503, true, opts);
  }
}

export class ConfigError extends MillraceError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, "CONFIG", 500, false, opts);
  }
}

/** Anything with a `code` and a boolean `retryable` counts as classified. */
export function isRetryable(err: unknown): boolean {
  if (err && typeof err === "object" && "retryable" in err) return Boolean((err as { retryable: unknown }).retryable);
  if (err && typeof err === "object" && "code" in err) {
    const code = String((err as { code: unknown }).code);
    // Socket-level failures from pg / nats / grpc are transient.
    return /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|TIMEOUT|503|57P01|53300|40001|40P01)$/.test(code);
  }
  return false;
}

export function errorCode(err: unknown): string {
  if (err && typeof err === "object" && "code" in err) return String((err as { code: unknown }).code);
  return "INTERNAL";
}

export function errorType(err: unknown): string {
  if (err instanceof Error) return err.name === "Error" ? "InternalError" : err.name;
  return "InternalError";
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
