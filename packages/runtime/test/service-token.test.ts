// Every internal gRPC call carries GRPC_SERVICE_TOKEN; a server refuses a call
// without it, unary or streaming, over a real grpc-js server and client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StatusServiceClient, StatusServiceService, Task, TaskState } from "@millrace/contracts";
import { call, grpc, grpcClientOptions, requireServiceToken, startGrpcServer, stopGrpcServer, unary } from "../src/index";

const TOKEN = "a-service-token-0123456789";

describe("service token on internal gRPC", () => {
  let server: grpc.Server;
  let addr = "";
  let calls = 0;
  beforeAll(async () => {
    server = new grpc.Server();
    const impl = {
      ping: unary(async () => {
        calls++;
        return { service: "status" };
      }),
      watchTask: (c: grpc.ServerWritableStream<unknown, Task>) => {
        calls++;
        c.write(Task.fromPartial({ taskId: "t1", state: TaskState.SUCCESS }));
        c.end();
      },
    };
    server.addService(StatusServiceService, requireServiceToken(StatusServiceService, impl, TOKEN) as unknown as grpc.UntypedServiceImplementation);
    addr = `127.0.0.1:${await startGrpcServer(server, "127.0.0.1:0")}`;
  });
  afterAll(async () => {
    await stopGrpcServer(server, 500);
  });

  const client = (token: string | undefined) => new StatusServiceClient(addr, grpc.credentials.createInsecure(), grpcClientOptions(token));
  const ping = async (token: string | undefined) => {
    const c = client(token);
    try {
      return await new Promise<grpc.status>((res) => c.ping({}, (err) => res(err ? err.code : grpc.status.OK)));
    } finally {
      c.close();
    }
  };
  const watch = async (token: string | undefined) => {
    const c = client(token);
    try {
      return await new Promise<{ code: grpc.status; got: number }>((res) => {
        let got = 0;
        const s = c.watchTask({ tenant: "acme", taskId: "t1", history: false });
        s.on("data", () => got++);
        s.on("error", (err: grpc.ServiceError) => res({ code: err.code, got }));
        s.on("status", (st: grpc.StatusObject) => st.code === grpc.status.OK && res({ code: st.code, got }));
      });
    } finally {
      c.close();
    }
  };

  it("refuses a call without the token or with a wrong one, before the handler runs", async () => {
    const before = calls;
    expect(await ping(undefined)).toBe(grpc.status.UNAUTHENTICATED);
    expect(await ping("not-the-service-token-at-all")).toBe(grpc.status.UNAUTHENTICATED);
    expect(await ping(TOKEN.slice(0, -1))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await watch(undefined)).toEqual({ code: grpc.status.UNAUTHENTICATED, got: 0 });
    expect(calls).toBe(before);
  });

  it("serves a call that carries it, unary and streaming", async () => {
    const before = calls;
    expect(await ping(TOKEN)).toBe(grpc.status.OK);
    expect(await watch(TOKEN)).toEqual({ code: grpc.status.OK, got: 1 });
    const c = client(TOKEN);
    try {
      expect(await call(c, c.ping, {}, 5_000, "status")).toEqual({ service: "status" });
    } finally {
      c.close();
    }
    expect(calls).toBe(before + 3);
  });

  it("leaves a service open when no token is configured, and names a handler that is not a method", () => {
    const impl = { ping: () => undefined };
    expect(requireServiceToken(StatusServiceService, impl, undefined)).toBe(impl);
    expect(() => requireServiceToken(StatusServiceService, { pong: () => undefined }, TOKEN)).toThrow(/pong is not a method/);
  });
});
