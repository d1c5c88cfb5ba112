// A shared secret on every internal gRPC call. The gateway checks the user's
// JWT and passes the tenant on in the request; without this, anything that
// could reach a service's gRPC port could name any tenant. NetworkPolicies
// narrow who can connect; the token makes the caller prove it is a Millrace
// service as well. GRPC_SERVICE_TOKEN unset: no check (a laptop, a test).
import { createHash, timingSafeEqual } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { GRPC_CHANNEL_OPTIONS } from "./grpc";

const HEADER = "x-millrace-service-token";

/** Client options for a Millrace gRPC client: GRPC_CHANNEL_OPTIONS, and the token sent on every call when set. */
export function grpcClientOptions(token: string | undefined): grpc.ClientOptions {
  if (!token) return GRPC_CHANNEL_OPTIONS;
  const sendToken: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(HEADER, token);
        next(metadata, listener);
      },
    });
  return { ...GRPC_CHANNEL_OPTIONS, interceptors: [sendToken] };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The service's handlers, each refusing (UNAUTHENTICATED) a call that does
 * not carry the token. Compared as SHA-256 digests in constant time, so
 * neither the token's length nor its bytes leak through timing.
 */
export function requireServiceToken<T extends object>(definition: grpc.ServiceDefinition, impl: T, token: string | undefined): T {
  if (!token) return impl;
  const want = digest(token);
  const carries = (md: grpc.Metadata): boolean => {
    const got = md.get(HEADER)[0];
    return typeof got === "string" && timingSafeEqual(digest(got), want);
  };
  const refused: Partial<grpc.StatusObject> = { code: grpc.status.UNAUTHENTICATED, details: "missing or wrong service token (GRPC_SERVICE_TOKEN)" };
  type Call = { metadata: grpc.Metadata; emit(event: "error", e: unknown): boolean };
  type Handler = (call: Call, callback?: (e: unknown) => void) => void;
  const guarded: Record<string, Handler> = {};
  for (const [name, handler] of Object.entries(impl as Record<string, Handler>)) {
    const method = definition[name];
    if (!method) throw new Error(`requireServiceToken: ${name} is not a method of the service`);
    guarded[name] = method.responseStream
      ? (call) => (carries(call.metadata) ? handler(call) : void call.emit("error", refused))
      : (call, callback) => (carries(call.metadata) ? handler(call, callback) : callback!(refused));
  }
  return guarded as T;
}
