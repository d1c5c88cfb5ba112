// The gateway as main.ts runs it: startGateway on an ephemeral port over a
// real socket, readiness, and draining.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "@millrace/contracts";
import { SignJWT } from "jose";
import { revokedTokenKey, stopGrpcServer } from "@millrace/runtime";
import { dbFixture, natsFixture, uniqueName, waitFor, type DbFixture, type NatsFixture } from "@millrace/testkit";
import { startGateway, type RunningGateway } from "../src/main";
import { SECRET, createHarness, startFakes, testConfig, token } from "./harness";

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
      // Reads that need it answer a 503 at once, with Retry-After, rather than hang.
      const read = await h.app.request("/v1/tasks/3f1c9a56-1111-4222-8333-444455556666", { headers: { authorization: `Bearer ${await token("acme")}` } });
      expect(read.status).toBe(503);
      expect(read.headers.get("retry-after")).toBe("1");
      expect((await read.json() as any).error.code).toBe("DEPENDENCY_UNAVAILABLE");
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

describe("token revocation (the revoked_tokens KV bucket, watched)", () => {
  let nats: NatsFixture;
  let db: DbFixture;
  let fakes: Awaited<ReturnType<typeof startFakes>>;
  const gateways: RunningGateway[] = [];

  beforeAll(async () => {
    [nats, db, fakes] = await Promise.all([natsFixture(), dbFixture(), startFakes()]);
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    await stopGrpcServer(fakes.server, 1_000);
    await nats?.cleanup();
    await db?.cleanup();
  });

  const start = async () => {
    const g = await startGateway(testConfig(nats, db, fakes.addr), { submissions: fakes.status.recorder() });
    gateways.push(g);
    return g;
  };
  const statusOf = async (g: RunningGateway, tok: string) =>
    (await fetch(`http://127.0.0.1:${g.port}/v1/tasks`, { headers: { authorization: `Bearer ${tok}` } })).status;
  const messageOf = async (g: RunningGateway, tok: string) =>
    ((await (await fetch(`http://127.0.0.1:${g.port}/v1/tasks`, { headers: { authorization: `Bearer ${tok}` } })).json()) as any).error?.message;
  const signed = (claims: { tenant: string; sub: string; iatS: number }) =>
    new SignJWT({ tenant: claims.tenant }).setProtectedHeader({ alg: "HS256" }).setSubject(claims.sub).setIssuedAt(claims.iatS).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));

  it("refuses a revoked token at once, though it was cached, and after a restart; an undo lets it in again", async () => {
    const kv = await nats.nc.jetstream().views.kv(nats.topo.bucket("revoked_tokens"));
    const g = await start();
    const leaked = await token(uniqueName("tenant_"));
    const other = await token(uniqueName("tenant_"));
    expect(await statusOf(g, leaked)).toBe(200); // now in the verified-token cache
    await kv.put(revokedTokenKey("t", leaked), JSON.stringify({ exp: Date.now() + 3_600_000 }));
    await waitFor(async () => (await statusOf(g, leaked)) === 401, { what: "the cached token refused" });
    expect(await messageOf(g, leaked)).toBe("token revoked");
    expect(await statusOf(g, other)).toBe(200);
    // The bucket is read before a new gateway serves its first request.
    const again = await start();
    expect(await statusOf(again, leaked)).toBe(401);
    await kv.delete(revokedTokenKey("t", leaked));
    await waitFor(async () => (await statusOf(again, leaked)) === 200, { what: "the undone revocation" });
  });

  it("refuses a subject's or a tenant's tokens issued before the cut-off, and takes newer ones", async () => {
    const kv = await nats.nc.jetstream().views.kv(nats.topo.bucket("revoked_tokens"));
    const g = await start();
    const nowS = Math.floor(Date.now() / 1000);
    const tenant = uniqueName("tenant_");
    const old = await signed({ tenant, sub: "alice@example.com", iatS: nowS - 60 });
    const colleague = await signed({ tenant, sub: "bob", iatS: nowS - 60 });
    const elsewhere = await signed({ tenant: uniqueName("tenant_"), sub: "carol", iatS: nowS - 60 });
    for (const t of [old, colleague, elsewhere]) expect(await statusOf(g, t)).toBe(200);

    // "alice@example.com" has characters KV keys do not allow: the key is hex-encoded.
    await kv.put(revokedTokenKey("s", "alice@example.com"), JSON.stringify({ before: (nowS - 30) * 1000 }));
    await waitFor(async () => (await statusOf(g, old)) === 401, { what: "alice's old token refused" });
    expect(await messageOf(g, old)).toMatch(/subject/);
    expect(await statusOf(g, await signed({ tenant, sub: "alice@example.com", iatS: nowS }))).toBe(200);
    expect(await statusOf(g, colleague)).toBe(200);

    await kv.put(revokedTokenKey("n", tenant), JSON.stringify({ before: (nowS - 30) * 1000 }));
    await waitFor(async () => (await statusOf(g, colleague)) === 401, { what: "the tenant's old tokens refused" });
    expect(await messageOf(g, colleague)).toMatch(/tenant/);
    expect(await statusOf(g, await signed({ tenant, sub: "bob", iatS: nowS }))).toBe(200);
    expect(await statusOf(g, elsewhere)).toBe(200);
  });
});
