import { afterEach, describe, expect, it } from "vitest";
import { NotFoundError, ValidationError } from "@millrace/runtime";
import { dbFixture, natsFixture, waitFor, type DbFixture, type NatsFixture } from "@millrace/testkit";
import { Registry, parseModelRef } from "@millrace/artifacts";

describe("model references", () => {
  it("parses name, name@alias and name@v3", () => {
    expect(parseModelRef("churn")).toEqual({ name: "churn" });
    expect(parseModelRef("churn@production")).toEqual({ name: "churn", alias: "production" });
    expect(parseModelRef("churn@v3")).toEqual({ name: "churn", version: 3 });
    expect(() => parseModelRef("bad name")).toThrow(ValidationError);
  });
});

describe("registry (real NATS object store + Postgres)", () => {
  let nats: NatsFixture;
  let db: DbFixture;
  afterEach(async () => {
    await nats?.cleanup();
    await db?.cleanup();
  });

  it("versions models, resolves latest, alias and explicit version, isolates tenants", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const os = await nats.nc.jetstream().views.os(nats.topo.objectStore("models"));
    const reg = new Registry(db.pool, os, nats.nc, nats.topo.modelsChanged);
    const base = { tenant: "acme", name: "churn", modelType: "random_forest", target: "y", backend: "cpu" };
    const v1 = await reg.createVersion({ ...base, artifact: new Uint8Array([1, 2, 3]), metrics: { accuracy: 0.9 } });
    const v2 = await reg.createVersion({ ...base, artifact: new Uint8Array([4, 5]) });
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect((await reg.resolve("acme", "churn")).version).toBe(2);
    expect((await reg.resolve("acme", "churn@v1")).version).toBe(1);
    await reg.setAlias("acme", "churn", "production", 1);
    const prod = await reg.resolve("acme", "churn@production");
    expect(prod.version).toBe(1);
    expect(Array.from(await reg.loadArtifact(prod))).toEqual([1, 2, 3]);
    const info = await reg.getModel("acme", "churn");
    expect(info.aliases).toEqual({ production: 1 });
    expect(info.versions.map((v) => v.version)).toEqual([2, 1]);
    expect(info.versions[1].metrics).toEqual({ accuracy: 0.9 });
    await expect(reg.resolve("other", "churn")).rejects.toBeInstanceOf(NotFoundError);
    await expect(reg.setAlias("acme", "churn", "production", 9)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("tells its own process of a change before the call returns, and others through NATS", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const os = await nats.nc.jetstream().views.os(nats.topo.objectStore("models"));
    const reg = new Registry(db.pool, os, nats.nc, nats.topo.modelsChanged);
    const local: string[] = [];
    reg.onChange((tenant, name) => local.push(`${tenant}/${name}`));
    const remote: string[] = [];
    const sub = nats.nc.subscribe(nats.topo.modelsChanged, { callback: (_e, m) => remote.push(new TextDecoder().decode(m.data)) });
    await reg.createVersion({ tenant: "acme", name: "churn", modelType: "random_forest", target: "y", backend: "cpu", artifact: new Uint8Array([1]) });
    expect(local).toEqual(["acme/churn"]);
    await reg.setAlias("acme", "churn", "production", 1);
    // Already told, with no round trip through NATS.
    expect(local).toEqual(["acme/churn", "acme/churn"]);
    await waitFor(() => remote.length === 2, { what: "both NATS notices" });
    expect(remote).toEqual(["acme/churn", "acme/churn"]);
    sub.unsubscribe();
  });
});
