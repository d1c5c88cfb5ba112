// The gateway as main.ts runs it: startGateway on an ephemeral port over a
// real socket, readiness, and draining.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "@millrace/contracts";
import { stopGrpcServer } from "@millrace/runtime";
import { dbFixture, natsFixture, uniqueName, waitFor, type DbFixture, type NatsFixture } from "@millrace/testkit";
import { startGateway, type RunningGateway } from "../src/main";
import { createHarness, startFakes, testConfig, token } from "./harness";

describe("over a real socket", () => {
  let nats: NatsFixture;
  let db: DbFixture;
  let fakes: Awaited<ReturnType<typeof startFakes>>;
  let gw: RunningGateway;
  let base: string;

  beforeAll(async () => {
    [nats, db, fakes] = await Promise.all([natsFixture(), dbFixture(), startFakes()]);
    // Connects its own NATS, Postgres (and migrates) and gRPC clients, as in production.
    gw = await startGateway(testConfig(nats, db, fakes.addr), { submissions: fakes.status.recorder() });
    base = `http://127.0.0.1:${gw.port}`;
  });
  afterAll(async () => {
    await gw?.close();
    await stopGrpcServer(fakes.server, 1_000);
    await nats?.cleanup();
    await db?.cleanup();
  });

  it("serves health, readiness and a submit-then-poll round trip", async () => {
    expect(gw.port).toBeGreaterThan(0);
    expect(await (await fetch(`${base}/healthz`)).json() as any).toEqual({ status: "ok" });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect((await ready.json() as any).checks).toEqual({ nats: "ok", postgres: "ok", status: "ok" });

    const tenant = uniqueName("tenant_");
    const auth = { authorization: `Bearer ${await token(tenant)}`, "content-type": "application/json" };
    const res = await fetch(`${base}/v1/predict/async`, { method: "POST", headers: auth, body: JSON.stringify({ model: "m", instances: [{ x: 1 }] }) });
    expect(res.status).toBe(202);
    const { task_id, status_url } = await res.json() as any;
    expect(res.headers.get("location")).toBe(status_url);
    // The job is published without waiting for JetStream's ack, on the gateway's own connection.
    const jsm = await nats.nc.jetstreamManager();
    await waitFor(async () => (await jsm.streams.info(nats.topo.jobsStream)).state.messages > 0, { what: "the job to be stored" });
    const stored = await jsm.streams.getMessage(nats.topo.jobsStream, { seq: 1 });
    expect(stored.header.get("Nats-Msg-Id")).toBe(task_id);
    expect((await jsm.streams.info(nats.topo.jobsStream)).state.messages).toBe(1);

    fakes.status.update(task_id, { state: TaskState.SUCCESS, result: { predictions: [2] } });
    const polled = await fetch(`${base}${status_url}`, { headers: auth });
    expect(await polled.json() as any).toMatchObject({ task_id, state: "SUCCESS", result: { predictions: [2] } });
    expect((await fetch(`${base}/v1/tasks/${task_id}`)).status).toBe(401);
  });

  it("ends open event streams and long polls when it drains", async () => {
    const tenant = uniqueName("tenant_");
    const auth = { authorization: `Bearer ${await token(tenant)}`, "content-type": "application/json" };
    const res = await fetch(`${base}/v1/predict/async`, { method: "POST", headers: auth, body: JSON.stringify({ model: "m", instances: [{ x: 1 }] }) });
    const { task_id } = await res.json() as any;
    const poll = fetch(`${base}/v1/tasks/${task_id}?wait=60`, { headers: auth });
    await waitFor(() => fakes.status.watchers > 0, { what: "the long poll to start watching" });
    await gw.close();
    const answered = await poll;
    expect(answered.status).toBe(200);
    expect((await answered.json() as any).state).toBe("PENDING");
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});

describe("/readyz", () => {
  it("503 naming the status service when it is unreachable", async () => {
    const h = await createHarness({ statusAddr: "127.0.0.1:1" });
    try {
      const res = await h.app.request("/readyz");
      expect(res.status).toBe(503);
      const body = await res.json() as any;
      expect(body.failing).toEqual(["status"]);
      expect(body.checks.nats).toBe("ok");
      expect(body.checks.postgres).toBe("ok");
      expect(body.error).toMatchObject({ code: "NOT_READY", message: "not ready: status" });
    } finally {
      await h.cleanup();
    }
  });

  it("503 while draining", async () => {
    const h = await createHarness();
    try {
      expect((await h.app.request("/readyz")).status).toBe(200);
      h.shutdown.abort();
      const res = await h.app.request("/readyz");
      expect(res.status).toBe(503);
      expect((await res.json() as any).failing).toEqual(["gateway"]);
    } finally {
      await h.cleanup();
    }
  });
});
