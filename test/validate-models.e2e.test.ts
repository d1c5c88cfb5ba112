// The maintenance schedules through the services: the scheduler fires a
// maintenance job that the trainer runs. validate-models re-scores each
// production model on the newest upload of its dataset and records drift in
// its metrics history; cleanup-expired-results purges the tenant's own
// expired results and no one else's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { waitFor } from "@millrace/testkit";
import { startStack, taskIn, type Stack } from "./harness";

function csv(slope: number): string {
  const rows = ["x,y"];
  for (let i = 0; i < 120; i++) rows.push(`${i},${slope * i + 3}`);
  return rows.join("\n");
}

describe("maintenance schedules", () => {
  let stack: Stack;
  beforeAll(async () => {
    // The status service's own sweep (every tenant) stays out of the cleanup test's way.
    stack = await startStack({ env: { SCHEDULES_TENANT: "acme", PURGE_EVERY_MS: "3600000" } });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it("re-scores the production model on its latest data and records the drift", async () => {
    const first = await stack.api("/v1/datasets?name=line", { method: "POST", tenant: "acme", headers: { "content-type": "text/csv" }, body: csv(2) });
    const train = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: { dataset_id: first.body.dataset_id, target: "y", model: { type: "linear_regression" }, name: "line" } });
    expect((await taskIn(stack, "acme", train.body.task_id, ["SUCCESS", "FAILURE"])).state).toBe("SUCCESS");
    await waitFor(async () => (await stack.api("/v1/models/line/aliases/production", { method: "PUT", tenant: "acme", json: { version: 1 } })).status === 200, { what: "alias set" });
    // New data under the same name, where the relationship changed.
    await stack.api("/v1/datasets?name=line", { method: "POST", tenant: "acme", headers: { "content-type": "text/csv" }, body: csv(3) });

    const fired = await waitFor(async () => {
      const r = await stack.api("/v1/schedules/validate-models/trigger", { method: "POST", tenant: "acme" });
      return r.status < 300 ? r : undefined;
    }, { what: "validate-models trigger" });
    const taskId = fired.body.task_id;
    expect(taskId).toBeTruthy();
    const done = await taskIn(stack, "acme", taskId, ["SUCCESS", "FAILURE"]);
    expect(done.state, JSON.stringify(done.error)).toBe("SUCCESS");
    const model = done.result.models[0];
    expect(model).toMatchObject({ name: "line", version: 1 });
    expect(model.metrics.r2).toBeLessThan(0.99); // it no longer fits
    expect(model.drift.rmse).toBeGreaterThan(1);

    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    const hist = await db.query("select name, version, drift from model_metrics_history where tenant = 'acme'");
    await db.end();
    expect(hist.rows).toHaveLength(1);
    expect(hist.rows[0].drift.rmse).toBeCloseTo(model.drift.rmse, 6);
  }, 120_000);

  it("cleanup-expired-results purges the tenant's own expired results, not another tenant's", async () => {
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      const expired = "insert into tasks (task_id, tenant, kind, state, created_at, expires_at) values ($1, $2, 'predict', 'SUCCESS', now() - interval '2 days', now() - interval '1 day')";
      await db.query(expired, ["old-acme", "acme"]);
      await db.query(expired, ["old-globex", "globex"]);
      const fired = await waitFor(async () => {
        const r = await stack.api("/v1/schedules/cleanup-expired-results/trigger", { method: "POST", tenant: "acme" });
        return r.status < 300 ? r : undefined;
      }, { what: "cleanup-expired-results trigger" });
      const done = await taskIn(stack, "acme", fired.body.task_id, ["SUCCESS", "FAILURE"]);
      expect(done.state, JSON.stringify(done.error)).toBe("SUCCESS");
      expect(done.result).toMatchObject({ action: "cleanup_expired_results", purged: 1 });
      const left = await db.query("select task_id from tasks where task_id in ('old-acme', 'old-globex')");
      expect(left.rows).toEqual([{ task_id: "old-globex" }]);
      expect((await stack.api("/v1/tasks/old-acme", { tenant: "acme" })).status).toBe(410);
    } finally {
      await db.end();
    }
  }, 120_000);
});
