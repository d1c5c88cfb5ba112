// gRPC clients built with GRPC_CHANNEL_OPTIONS spread calls over every
// address of their target (as a headless Service's DNS name gives them).
import { afterAll, describe, expect, it } from "vitest";
import { StatusServiceClient, StatusServiceService } from "@millrace/contracts";
import { call, grpc, GRPC_CHANNEL_OPTIONS, startGrpcServer, stopGrpcServer, unary } from "../src/index";

describe("gRPC client load balancing", () => {
  const servers: grpc.Server[] = [];
  afterAll(async () => {
    for (const s of servers) await stopGrpcServer(s, 500);
  });

  it("round-robins calls over the target's addresses instead of pinning one", async () => {
    const hits = [0, 0];
    const ports: number[] = [];
    for (const i of [0, 1]) {
      const server = new grpc.Server(GRPC_CHANNEL_OPTIONS);
      server.addService(StatusServiceService, {
        ping: unary(async () => {
          hits[i]++;
          return { service: `status-${i}` };
        }),
      } as unknown as grpc.UntypedServiceImplementation);
      ports.push(await startGrpcServer(server, "127.0.0.1:0"));
      servers.push(server);
    }
    const client = new StatusServiceClient(`ipv4:127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
    try {
      for (let i = 0; i < 20; i++) await call(client, client.ping, {}, 5_000, "status");
    } finally {
      client.close();
    }
    // pick_first (grpc's default) would send all 20 to one server.
    expect(hits[0]).toBeGreaterThan(0);
    expect(hits[1]).toBeGreaterThan(0);
    expect(hits[0] + hits[1]).toBe(20);
  });
});
