// The validate-models schedule through the services: the scheduler fires a
// maintenance job that the trainer runs, re-scoring each production model on
// the newest upload of its dataset and recording drift in its metrics history.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { waitFor } from "@millrace/testkit";
import { startStack, taskIn, type Stack } from "./harness";

function csv(slope: number): string {
  const rows = ["x,y"];
  for (let i = 0; i < 120; i++) rows.push(`${i},${slope * i + 3}`);
  return rows.join("\n");
}

describe("validate-models schedule", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { SCHEDULES_TENANT: "acme" } });
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
});
