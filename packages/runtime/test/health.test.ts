import { afterEach, describe, expect, it } from "vitest";
import { commaList, connectNats, connectPostgres, infrastructureChecks, listSetting, readiness, startHealthServer } from "@millrace/runtime";
import { dbFixture, testNatsUrl, type DbFixture } from "@millrace/testkit";

describe("list settings", () => {
  it("splits on commas, trims, and drops blanks", () => {
    expect(commaList(" default, high,,batch ,")).toEqual(["default", "high", "batch"]);
    expect(commaList("")).toEqual([]);
  });

  it("falls back to the default when unset", () => {
    expect(listSetting("predict,explain").parse(undefined)).toEqual(["predict", "explain"]);
    expect(listSetting("predict,explain").parse("train")).toEqual(["train"]);
  });
});

describe("infrastructureChecks", () => {
  let db: DbFixture | undefined;
  afterEach(async () => db?.cleanup());

  it("is ready with both up, and names the dependency that went away", async () => {
    db = await dbFixture();
    // Connections of the test's own, so closing them leaves the fixture's intact.
    const nc = await connectNats({ url: testNatsUrl(), name: "health-test" });
    const pool = await connectPostgres({ url: db.url, max: 1 });
    const checks = infrastructureChecks(nc, pool);
    const health = await startHealthServer(0, checks);
    try {
      const ready = await fetch(`http://127.0.0.1:${health.port}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ready: true, checks: { nats: "ok", postgres: "ok" } });

      await nc.close();
      const noNats = await fetch(`http://127.0.0.1:${health.port}/readyz`);
      expect(noNats.status).toBe(503);
      expect(await noNats.json()).toEqual({ ready: false, checks: { nats: "nats connection closed", postgres: "ok" } });

      await pool.end();
      const neither = await readiness(checks);
      expect(neither.ready).toBe(false);
      expect(neither.checks.nats).toBe("nats connection closed");
      expect(neither.checks.postgres).not.toBe("ok");
    } finally {
      await new Promise((r) => health.server.close(r));
      if (!nc.isClosed()) await nc.close();
    }
  });
});
