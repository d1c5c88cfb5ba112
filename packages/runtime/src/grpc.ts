import * as grpc from "@grpc/grpc-js";
import {
  ConflictError,
  DataError,
  DependencyUnavailableError,
  GoneError,
  QuotaExceededError,
  IdempotencyConflictError,
  MillraceError,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
} from "./errors";

export { grpc };

const TO_GRPC: Record<string, grpc.status> = {
  VALIDATION: grpc.status.INVALID_ARGUMENT,
  DATA: grpc.status.FAILED_PRECONDITION,
  NOT_FOUND: grpc.status.NOT_FOUND,
  CONFLICT: grpc.status.ALREADY_EXISTS,
  GONE: grpc.status.OUT_OF_RANGE,
  QUOTA_EXCEEDED: grpc.status.RESOURCE_EXHAUSTED,
  PAYLOAD_TOO_LARGE: grpc.status.RESOURCE_EXHAUSTED,
  IDEMPOTENCY_CONFLICT: grpc.status.ABORTED,
  DEPENDENCY_UNAVAILABLE: grpc.status.UNAVAILABLE,
};

/** Turns a thrown error into a gRPC status that keeps our code and field. */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (err instanceof MillraceError) {
    metadata.set("millrace-code", err.code);
    if (err.field) metadata.set("millrace-field", err.field);
    if (err.details) metadata.set("millrace-details", JSON.stringify(err.details));
    return { code: TO_GRPC[err.code] ?? grpc.status.UNKNOWN, details: err.message, metadata };
  }
  // Errors from other libraries keep their own typed codes when they have one.
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string") metadata.set("millrace-code", code);
  const name = (err as { name?: unknown })?.name;
  if (typeof name === "string") metadata.set("millrace-type", name);
  const field = (err as { field?: unknown })?.field;
  if (typeof field === "string") metadata.set("millrace-field", field);
  const retryable = (err as { retryable?: unknown })?.retryable;
  const isClientError = retryable === false && typeof code === "string";
  return {
    code: isClientError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL,
    details: err instanceof Error ? err.message : String(err),
    metadata,
  };
}

/** Rebuilds a typed error on the client side of a call. */
export function fromServiceError(err: grpc.ServiceError, what: string): Error {
  const code = String(err.metadata?.get("millrace-code")?.[0] ?? "");
  const field = err.metadata?.get("millrace-field")?.[0] as string | undefined;
  const detailsRaw = err.metadata?.get("millrace-details")?.[0] as string | undefined;
  const details = detailsRaw ? (JSON.parse(detailsRaw) as Record<string, unknown>) : undefined;
  const msg = err.details || err.message;
  const opts = { field, details, cause: err };
  const typed = errorFromCode(code, msg, opts);
  if (typed) return typed;
  if (err.code === grpc.status.INVALID_ARGUMENT) {
    const type = String(err.metadata?.get("millrace-type")?.[0] ?? "ValidationError");
    const e = new ValidationError(msg, opts);
    (e as { details?: Record<string, unknown> }).details = { ...(details ?? {}), type, code };
    return e;
  }
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
    return new DependencyUnavailableError(`${what} unavailable: ${msg}`, opts);
  }
  return new MillraceError(`${what} failed: ${msg}`, code || "INTERNAL", 500, false, opts);
}

/** Rebuilds a typed error from its code (a gRPC status or a batch item's error). */
export function errorFromCode(code: string, msg: string, opts: { field?: string; details?: Record<string, unknown>; cause?: unknown } = {}): Error | undefined {
  switch (code) {
    case "VALIDATION":
      return new ValidationError(msg, opts);
    case "DATA":
      return new DataError(msg, opts);
    case "NOT_FOUND":
      return new NotFoundError(msg, opts);
    case "CONFLICT":
      return new ConflictError(msg, opts);
    case "GONE":
      return new GoneError(msg, opts);
    case "QUOTA_EXCEEDED":
      return new QuotaExceededError(msg, opts);
    case "PAYLOAD_TOO_LARGE":
      return new PayloadTooLargeError(msg, opts);
    case "IDEMPOTENCY_CONFLICT":
      return new IdempotencyConflictError(msg, opts);
  }
  return undefined;
}

type Unary<Req, Res> = (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>;

/** Adapts an async function to a grpc-js unary handler, mapping errors. */
export function unary<Req, Res>(fn: Unary<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err) => callback(toServiceError(err) as grpc.ServiceError),
    );
  };
}

/** Binds a server; port 0 picks a free one. Returns the bound port. */
export async function startGrpcServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

export function stopGrpcServer(server: grpc.Server, graceMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

export const GRPC_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": 256 * 1024 * 1024,
  "grpc.max_send_message_length": 256 * 1024 * 1024,
  "grpc.keepalive_time_ms": 30_000,
  // Reconnect quickly after a peer restarts.
  "grpc.initial_reconnect_backoff_ms": 200,
  "grpc.max_reconnect_backoff_ms": 2_000,
  // Clients spread calls over every address their target resolves to (a
  // Kubernetes headless Service: dns:///<name>:<port> lists each replica)
  // instead of pinning one HTTP/2 connection to one pod.
  "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  // Servers: a connection older than 5 min is asked to go (GOAWAY), so
  // clients open a new one, re-resolve and find replicas added since. Calls
  // already open on the old one may run on for 65 min: the gateway follows a
  // task's event stream (WatchTask) for up to an hour.
  "grpc.max_connection_age_ms": 5 * 60_000,
  "grpc.max_connection_age_grace_ms": 65 * 60_000,
};

/**
 * Calls a unary method with a deadline and returns a promise; failures come
 * back as typed errors (NotFoundError, DependencyUnavailableError, ...).
 */
export function call<Req, Res>(
  client: grpc.Client,
  method: (req: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
  timeoutMs = 10_000,
  what = "service",
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) reject(fromServiceError(err, what));
      else resolve(res);
    });
  });
}
