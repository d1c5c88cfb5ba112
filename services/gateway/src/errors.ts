// HTTP mapping of typed errors. Every route throws; app.onError (below) is the
// one place that turns an error into `{error:{code, message, field?}}`.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "@millrace/runtime";
import { MillraceError, grpc, isRetryable } from "@millrace/runtime";
import type { GatewayEnv } from "./context";

export interface ErrorBody {
  error: { code: string; message: string; field?: string; [k: string]: unknown };
}

/** 415: the request's content type is not one the route reads. */
export class UnsupportedMediaTypeError extends MillraceError {
  constructor(message: string, opts: { field?: string } = {}) {
    super(message, "UNSUPPORTED_MEDIA_TYPE", 415, false, opts);
  }
}

export function errorBody(code: string, message: string, field?: string, extra?: Record<string, unknown>): ErrorBody {
  const error: ErrorBody["error"] = { code, message };
  if (field) error.field = field;
  if (extra) Object.assign(error, extra);
  return { error };
}

interface Classified {
  status: number;
  body: ErrorBody;
  /** 5xx other than dependency outages: log the stack. */
  internal: boolean;
}

function isClientShaped(err: unknown): err is { httpStatus: number; code: string; message: string; field?: string; details?: Record<string, unknown> } {
  const e = err as { httpStatus?: unknown; code?: unknown };
  return !!e && typeof e === "object" && typeof e.httpStatus === "number" && typeof e.code === "string";
}

/**
 * Classifies any thrown value. MillraceError subclasses (and errors from
 * @millrace/ml, which carry the same shape) keep their status, code and field;
 * a raw gRPC UNAVAILABLE is a 503; anything else is a 500 that says nothing of
 * the internals.
 */
export function classify(err: unknown): Classified {
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = status === 413 ? "PAYLOAD_TOO_LARGE" : status === 401 ? "UNAUTHORIZED" : status >= 500 ? "INTERNAL" : "BAD_REQUEST";
    return { status, body: errorBody(code, err.message || "request failed"), internal: status >= 500 };
  }
  if (isClientShaped(err)) {
    const status = err.httpStatus;
    if (status >= 500 && err.code !== "DEPENDENCY_UNAVAILABLE" && err.code !== "TRANSIENT") {
      return { status: 500, body: errorBody("INTERNAL", "internal error"), internal: true };
    }
    const extra: Record<string, unknown> = {};
    const details = err.details;
    if (details && typeof details === "object") {
      for (const k of ["line", "row", "column", "type", "task_id", "state", "limit"]) if (k in details) extra[k] = details[k];
    }
    // A malformed CSV (ours or @millrace/ml's) is a fault in the request body.
    const field = err.field ?? (err.code === "CSV_FORMAT" ? "body" : undefined);
    return { status, body: errorBody(err.code, err.message, field, Object.keys(extra).length ? extra : undefined), internal: false };
  }
  const grpcCode = (err as { code?: unknown })?.code;
  if (typeof grpcCode === "number" && (grpcCode === grpc.status.UNAVAILABLE || grpcCode === grpc.status.DEADLINE_EXCEEDED)) {
    return { status: 503, body: errorBody("DEPENDENCY_UNAVAILABLE", "a dependency is unavailable; retry later"), internal: false };
  }
  // Socket-level failures of pg / nats (ECONNREFUSED, admin shutdown, ...).
  if (isRetryable(err)) {
    return { status: 503, body: errorBody("DEPENDENCY_UNAVAILABLE", "a dependency is unavailable; retry later"), internal: false };
  }
  return { status: 500, body: errorBody("INTERNAL", "internal error"), internal: true };
}

export function errorHandler(logger: Logger) {
  return (err: Error, c: Context<GatewayEnv>) => {
    const { status, body, internal } = classify(err);
    if (internal) logger.error({ err, path: c.req.path, method: c.req.method }, "unhandled error");
    c.set("errorCode", body.error.code);
    const headers: Record<string, string> = {};
    if (status === 401) headers["WWW-Authenticate"] = "Bearer";
    if (status === 503) headers["Retry-After"] = "1";
    return c.json(body, status as 400, headers);
  };
}

/** 404 for a path no route has; 405 with Allow for a route asked with another method. */
export function notFoundHandler(allowed: (path: string) => string[]) {
  return (c: Context<GatewayEnv>) => {
    const methods = allowed(c.req.path).join(", ");
    if (methods) {
      c.set("errorCode", "METHOD_NOT_ALLOWED");
      return c.json(errorBody("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed on ${c.req.path}; allowed: ${methods}`), 405, { Allow: methods });
    }
    return c.json(errorBody("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`), 404);
  };
}
