// The ML engine through the real services (issue "ML engine", Done when): a
// seed-style pipeline (dataset → missing values → encoding → scaling → split →
// random forest) run asynchronously with per-node progress, the registry and
// its aliases, prediction on raw rows (imputed, mistyped, too many), additive
// explanations, pipeline validation that queues nothing, the sync pipeline and
// node routes, and a second version picked up without a predictor restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@millrace/testkit";
import { startStack, taskIn, type Stack } from "./harness";

const T = "mlco";

/**
 * Churn-like data: age and income numeric (some cells empty), plan categorical
 * (some cells empty), label yes/no from a noisy rule the forest can learn.
 */
function churnCsv(rows = 600): string {
  let s = 20240611;
  const r = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const plans = ["basic", "plus", "pro"];
  const out = ["age,income,plan,tenure,label"];
  for (let i = 0; i < rows; i++) {
    const age = Math.round(18 + r() * 60);
    const income = Math.round(20 + r() * 130);
    const plan = plans[Math.floor(r() * 3)];
    const tenure = Math.round(r() * 120);
    const score = (age - 45) / 15 - (income - 85) / 40 + (plan === "basic" ? 0.8 : plan === "pro" ? -0.8 : 0) - tenure / 60 + 1 + (r() - 0.5) * 0.8;
    const label = score > 0 ? "yes" : "no";
    // Every 13th row misses its age, every 17th its income, every 19th its plan.
    out.push([i % 13 === 5 ? "" : age, i % 17 === 3 ? "" : income, i % 19 === 7 ? "" : plan, tenure, label].join(","));
  }
  return out.join("\n");
}

function pipeline(datasetId: string, params: Record<string, unknown> = { n_estimators: 200, max_depth: 8 }) {
  return [
    { node_type: "dataset", input: { dataset_id: datasetId } },
    { node_type: "missing_values", input: { strategy: "mean", columns: ["age", "income"] } },
    { node_type: "missing_values", input: { strategy: "most_frequent", columns: ["plan"] } },
    { node_type: "encode", input: { method: "one_hot", columns: ["plan"] } },
    { node_type: "scale", input: { method: "standard", columns: ["age", "income", "tenure"] } },
    { node_type: "split", input: { test_size: 0.25, seed: 7, stratify: true } },
    { node_type: "model", input: { type: "random_forest", target: "label", params } },
  ];
}

/** Reads a task's server-sent events until the stream ends (at a terminal state); with lastEventId, as a reconnecting EventSource. */
async function sseEvents(stack: Stack, tenant: string, taskId: string, lastEventId?: string): Promise<{ event: string; data: any; id: string }[]> {
  const headers: Record<string, string> = { authorization: `Bearer ${stack.token(tenant)}`, accept: "text/event-stream" };
  if (lastEventId) headers["last-event-id"] = lastEventId;
  const res = await fetch(`${stack.url}/v1/tasks/${taskId}/events`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
  const text = await res.text();
  const events: { event: string; data: any; id: string }[] = [];
  for (const block of text.split(/\n\n/)) {
    let event = "message";
    let id = "";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("id:")) id = line.slice(3).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    if (data.length) events.push({ event, data: JSON.parse(data.join("\n")), id });
  }
  return events;
}

async function taskCount(stack: Stack, tenant: string): Promise<number> {
  const r = await stack.api("/v1/tasks?limit=500", { tenant });
  expect(r.status).toBe(200);
  return r.body.tasks.length;
}

describe("ML engine through the services: pipeline → registry → predict → explain", () => {
  let stack: Stack;
  let datasetId: string;
  const name = "churn";

  beforeAll(async () => {
    stack = await startStack();
    // The gateway is ready before the predictor (which serves the registry) may be.
    await waitFor(async () => (await stack.api("/v1/models", { tenant: T })).status === 200, { timeoutMs: 60_000, what: "predictor serving the registry" });
    const up = await stack.api(`/v1/datasets?name=churn`, { method: "POST", tenant: T, headers: { "content-type": "text/csv" }, body: churnCsv() });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    expect(up.body.rows).toBe(600);
    const cols = Object.fromEntries(up.body.columns.map((c: { name: string; type: string }) => [c.name, c]));
    expect(cols.plan.type).toBe("category");
    expect(cols.age.type).toMatch(/^(number|integer)$/);
    datasetId = up.body.dataset_id;
  }, 180_000);
  afterAll(async () => stack?.stop());

  it("rejects invalid pipelines with a 400 naming the field and queues nothing", async () => {
    const before = await taskCount(stack, T);
    const good = pipeline(datasetId);
    const cases: { what: string; nodes: unknown[]; field: RegExp }[] = [
      { what: "unknown node", nodes: [good[0], { node_type: "teleport", input: {} }, good[6]], field: /^pipeline\[1\]\.node_type$/ },
      { what: "model not last", nodes: [good[0], good[6], good[4]], field: /^pipeline\[\d\]/ },
      { what: "missing column", nodes: [good[0], { node_type: "missing_values", input: { strategy: "mean", columns: ["age", "shoe_size"] } }, good[6]], field: /^pipeline\[1\]\.input\.columns\[1\]$/ },
      { what: "missing target", nodes: [good[0], good[1], { node_type: "model", input: { type: "random_forest", target: "churned" } }], field: /^pipeline\[2\]\.input\.target$/ },
      { what: "no target at all", nodes: [good[0], { node_type: "model", input: { type: "random_forest" } }], field: /^pipeline\[1\]\.input\.target$/ },
      { what: "unknown dataset", nodes: [{ node_type: "dataset", input: { dataset_id: "nope" } }, good[6]], field: /^pipeline\[0\]\.input\.dataset_id$/ },
    ];
    for (const c of cases) {
      for (const route of ["/v1/pipelines/run-async", "/v1/pipelines/run"]) {
        const r = await stack.api(route, { method: "POST", tenant: T, json: { pipeline_name: name, pipeline: c.nodes } });
        expect([400, 404], `${c.what} via ${route}: ${JSON.stringify(r.body)}`).toContain(r.status);
        if (c.what !== "unknown dataset") expect(r.status, c.what).toBe(400);
        expect(r.body.error.field, `${c.what}: ${JSON.stringify(r.body)}`).toMatch(c.field);
      }
    }
    // Nothing was created or queued, and no model exists yet.
    expect(await taskCount(stack, T)).toBe(before);
    expect((await stack.api(`/v1/models/${name}`, { tenant: T })).status).toBe(404);
  });

  it("runs the pipeline async with per-node progress, registers v1, serves it by alias, explains additively", async () => {
    const run = await stack.api("/v1/pipelines/run-async", { method: "POST", tenant: T, json: { pipeline_name: name, pipeline: pipeline(datasetId) } });
    expect(run.status, JSON.stringify(run.body)).toBe(202);
    const id = run.body.task_id;
    expect(run.body.events_url).toBe(`/v1/tasks/${id}/events`);

    // Follow it two ways at once: the SSE stream and plain polling.
    const polled: any[] = [];
    const streamed = sseEvents(stack, T, id);
    const done = await waitFor(
      async () => {
        const r = await stack.api(`/v1/tasks/${id}`, { tenant: T });
        polled.push(r.body);
        return ["SUCCESS", "FAILURE"].includes(r.body.state) ? r.body : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 50, what: "pipeline task terminal" },
    );
    expect(done.state, JSON.stringify(done.error)).toBe("SUCCESS");
    const events = await streamed;
    expect(events[events.length - 1].event).toBe("SUCCESS");

    // Reconnecting (as EventSource does when a stream ends): a fresh stream
    // replays the history; one with Last-Event-ID gets exactly what came after
    // that id; one with the last id gets 204, which stops EventSource.
    const replay = await sseEvents(stack, T, id);
    const ids = replay.map((e) => e.id);
    expect(new Set(ids).size, ids.join(" ")).toBe(ids.length);
    expect(ids.at(-1), "the terminal row's id").toMatch(/^0\.1\.\d+$/);
    expect(replay.filter((e) => e.event === "PROGRESS").length).toBeGreaterThan(2);
    const mid = Math.floor(ids.length / 2);
    expect((await sseEvents(stack, T, id, ids[mid])).map((e) => e.id)).toEqual(ids.slice(mid + 1));
    const seenAll = await fetch(`${stack.url}/v1/tasks/${id}/events`, { headers: { authorization: `Bearer ${stack.token(T)}`, "last-event-id": ids.at(-1)! } });
    expect(seenAll.status).toBe(204);
    const progress = [...events.map((e) => e.data), ...polled].filter((t) => t.state === "PROGRESS").map((t) => t.progress);
    const withNode = progress.filter((p) => p.current_node >= 1 && p.total_nodes === 7 && typeof p.node_type === "string");
    expect(withNode.length, JSON.stringify(progress).slice(0, 500)).toBeGreaterThan(0);
    expect(withNode.some((p) => p.node_type === "model" && p.current_node === 7)).toBe(true);

    // The result: the model, classification metrics, the steps.
    expect(done.result.model).toEqual({ name, version: 1 });
    expect(done.result.task).toBe("classification");
    expect(done.result.model_type).toBe("random_forest");
    expect(done.result.metrics.accuracy).toBeGreaterThan(0.75);
    expect(done.result.feature_names).toEqual(expect.arrayContaining(["age", "income", "tenure", "plan=basic", "plan=plus", "plan=pro"]));
    expect(done.result.steps.map((s: { node_type: string }) => s.node_type)).toEqual(["missing_values", "missing_values", "encode", "scale"]);
    expect(done.result.rows_test).toBe(150);

    // The registry.
    const list = await stack.api("/v1/models", { tenant: T });
    expect(list.status).toBe(200);
    expect(list.body.models.map((m: { name: string }) => m.name)).toContain(name);
    const model = await stack.api(`/v1/models/${name}`, { tenant: T });
    expect(model.status).toBe(200);
    expect(model.body.latest_version).toBe(1);
    expect(model.body.versions).toHaveLength(1);
    const v1 = await stack.api(`/v1/models/${name}/versions/1`, { tenant: T });
    expect(v1.status).toBe(200);
    const up = await stack.api(`/v1/datasets/${datasetId}`, { tenant: T });
    expect(v1.body).toMatchObject({ name, version: 1, model_type: "random_forest", target: "label", dataset_id: datasetId, dataset_hash: up.body.sha256, task_id: id });
    expect(v1.body.dataset_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(v1.body.backend).toEqual(expect.any(String));
    expect(v1.body.backend.length).toBeGreaterThan(0);
    expect(v1.body.artifact_bytes).toBeGreaterThan(1000);
    const m = v1.body.metrics;
    for (const k of ["accuracy", "f1_macro", "roc_auc"]) {
      expect(m[k], k).toBeGreaterThan(0.5);
      expect(m[k], k).toBeLessThanOrEqual(1);
    }
    expect(m.confusion_matrix).toHaveLength(2);
    expect(m.confusion_matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(150);
    expect((await stack.api(`/v1/models/${name}/versions/2`, { tenant: T })).status).toBe(404);
    expect((await stack.api(`/v1/models/${name}`, { tenant: "someone-else" })).status).toBe(404);

    // Alias.
    const alias = await stack.api(`/v1/models/${name}/aliases/production`, { method: "PUT", tenant: T, json: { version: 1 } });
    expect(alias.status, JSON.stringify(alias.body)).toBe(200);
    expect(JSON.stringify(alias.body.aliases)).toMatch(/production/);
    const badAlias = await stack.api(`/v1/models/${name}/aliases/production`, { method: "PUT", tenant: T, json: { version: 9 } });
    expect(badAlias.status).toBeGreaterThanOrEqual(400);
    expect(badAlias.status).toBeLessThan(500);

    // Predict on raw rows; the second has no age and no plan (imputed by the pipeline).
    const rows = [
      { age: 70, income: 25, plan: "basic", tenure: 3 },
      { age: null, income: 140, tenure: 110 },
      { age: "33", income: "60", plan: "plus", tenure: 50 },
    ];
    const pred = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: rows } });
    expect(pred.status, JSON.stringify(pred.body)).toBe(200);
    expect(pred.body.model).toEqual({ name, version: 1 });
    expect(pred.body.predictions).toHaveLength(3);
    expect(pred.body.predictions[0]).toBe("yes");
    expect(pred.body.predictions[1]).toBe("no");
    expect(pred.body.probabilities).toHaveLength(3);
    for (const [i, p] of pred.body.probabilities.entries()) {
      expect(Object.keys(p).sort()).toEqual(["no", "yes"]);
      expect(p.no + p.yes).toBeCloseTo(1, 9);
      expect(p[pred.body.predictions[i]]).toBeGreaterThanOrEqual(0.5);
    }

    // A mistyped cell: 400 naming the row and the column; nothing predicted.
    const mistyped = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: [rows[0], { ...rows[2], income: "lots" }] } });
    expect(mistyped.status, JSON.stringify(mistyped.body)).toBe(400);
    expect(mistyped.body.error).toMatchObject({ code: "VALIDATION", field: "instances[1].income", row: 1, column: "income" });
    expect(mistyped.body.error.message).toMatch(/row 1, column 'income'/);
    // The same through explain and the async route (the task fails, not retried).
    const exMistyped = await stack.api("/v1/explain", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: [{ ...rows[0], tenure: "long" }] } });
    expect(exMistyped.status).toBe(400);
    expect(exMistyped.body.error.field).toBe("instances[0].tenure");
    const asyncMistyped = await stack.api("/v1/predict/async", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: [rows[0], { ...rows[2], income: "lots" }] } });
    expect(asyncMistyped.status).toBe(202);
    const failed = await taskIn(stack, T, asyncMistyped.body.task_id, ["SUCCESS", "FAILURE"]);
    expect(failed.state).toBe("FAILURE");
    expect(failed.attempts).toBe(1);
    expect(failed.error.message).toMatch(/instances\[1\]\.income/);

    // Explanations: base + Σ contributions = output (the predicted class's probability).
    const ex = await stack.api("/v1/explain", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: rows } });
    expect(ex.status, JSON.stringify(ex.body)).toBe(200);
    expect(ex.body.model).toEqual({ name, version: 1 });
    expect(ex.body.method).toBe("tree_shap");
    expect(ex.body.explanations).toHaveLength(3);
    for (const [i, e] of ex.body.explanations.entries()) {
      const sum = e.base_value + Object.values(e.contributions as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - e.output), `row ${i}`).toBeLessThan(1e-6);
      expect(e.prediction).toBe(pred.body.predictions[i]);
      expect(Math.abs(e.output - pred.body.probabilities[i][e.prediction])).toBeLessThan(1e-6);
      expect(Object.keys(e.contributions)).toEqual(expect.arrayContaining(["age", "income", "tenure", "plan=basic"]));
    }

    // The async explain gives the same numbers through the queue.
    const ea = await stack.api("/v1/explain/async", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: rows } });
    expect(ea.status).toBe(202);
    const eDone = await taskIn(stack, T, ea.body.task_id, ["SUCCESS", "FAILURE"]);
    expect(eDone.state, JSON.stringify(eDone.error)).toBe("SUCCESS");
    expect(eDone.type).toBe("explain");
    const asyncEx = eDone.result.explanations;
    expect(asyncEx).toHaveLength(3);
    for (const [i, e] of asyncEx.entries()) {
      expect(e.output).toBeCloseTo(ex.body.explanations[i].output, 12);
      const sum = e.base_value + Object.values(e.contributions as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - e.output)).toBeLessThan(1e-6);
    }

    // More instances than MAX_INSTANCES (10,000): 413 naming instances, sync and async.
    const many = Array.from({ length: 10_001 }, (_, i) => ({ age: 20 + (i % 50), income: 50, plan: "pro", tenure: 1 }));
    const tooMany = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: name, instances: many } });
    expect(tooMany.status, JSON.stringify(tooMany.body).slice(0, 300)).toBe(413);
    expect(tooMany.body.error.field).toBe("instances");
    const before = await taskCount(stack, T);
    const tooManyAsync = await stack.api("/v1/predict/async", { method: "POST", tenant: T, json: { model: name, instances: many } });
    expect(tooManyAsync.status).toBe(413);
    expect(await taskCount(stack, T)).toBe(before);
    // Exactly the limit is fine, even when the rows are wide (extra columns are
    // ignored) and the body is well over MAX_BODY_BYTES (1 MiB).
    const wide = many.slice(0, 10_000).map((r, i) => ({ ...r, customer_id: `cust-${String(i).padStart(8, "0")}`, note: "n".repeat(60) }));
    expect(JSON.stringify(wide).length).toBeGreaterThan(1024 * 1024);
    const atLimit = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: name, instances: wide } });
    expect(atLimit.status, JSON.stringify(atLimit.body).slice(0, 300)).toBe(200);
    expect(atLimit.body.predictions).toHaveLength(10_000);
    expect(atLimit.body.probabilities).toHaveLength(10_000);
  }, 180_000);

  it("a long async explain reports progress, leaves the predictor answering, and stops on cancel", async () => {
    // 10,000 rows through TreeSHAP on the 200-tree forest is about a minute of work.
    const big = Array.from({ length: 10_000 }, (_, i) => ({ age: 20 + (i % 50), income: 30 + (i % 70), plan: i % 3 ? "pro" : "basic", tenure: i % 10 }));
    const ea = await stack.api("/v1/explain/async", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: big } });
    expect(ea.status, JSON.stringify(ea.body)).toBe(202);
    const id = ea.body.task_id;
    const running = await taskIn(stack, T, id, ["PROGRESS", "SUCCESS", "FAILURE"]);
    expect(running.state).toBe("PROGRESS");
    expect(running.progress.message).toMatch(/^explained \d+ of 10000 rows$/);
    expect(running.progress.percent).toBeLessThan(100);
    // The same predictor answers a sync predict while the explanation is still running.
    const pred = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: big.slice(0, 2) } });
    expect(pred.status, JSON.stringify(pred.body)).toBe(200);
    expect((await stack.api(`/v1/tasks/${id}`, { tenant: T })).body.state).toBe("PROGRESS");
    expect((await stack.api(`/v1/tasks/${id}/cancel`, { method: "POST", tenant: T })).status).toBe(202);
    const revoked = await taskIn(stack, T, id, ["REVOKED", "SUCCESS", "FAILURE"]);
    expect(revoked.state).toBe("REVOKED");
    expect(revoked.attempts).toBe(1);
    expect(revoked.result ?? null).toBeNull();
  }, 120_000);

  it("sync pipeline run returns the finished task; a new version is served by bare name at once while the alias stays on v1", async () => {
    const rows = [{ age: 70, income: 25, plan: "basic", tenure: 3 }];
    // Resolve the bare name now, so a cached resolution would have to be dropped.
    const first = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: name, instances: rows } });
    expect(first.status).toBe(200);
    expect(first.body.model).toEqual({ name, version: 1 });

    const sync = await stack.api("/v1/pipelines/run", { method: "POST", tenant: T, json: { pipeline_name: name, pipeline: pipeline(datasetId, { n_estimators: 40, max_depth: 6, seed: 3 }) } });
    expect(sync.status, JSON.stringify(sync.body).slice(0, 500)).toBe(200);
    expect(sync.body.state).toBe("SUCCESS");
    expect(sync.body.type).toBe("pipeline");
    expect(sync.body.result.model).toEqual({ name, version: 2 });
    expect(sync.body.finished_at).toBeTruthy();

    // No predictor restart: the registry's change notice drops the cached resolution.
    const bare = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: name, instances: rows } });
    expect(bare.status).toBe(200);
    expect(bare.body.model).toEqual({ name, version: 2 });
    const prod = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: rows } });
    expect(prod.body.model).toEqual({ name, version: 1 });
    const pinned = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: `${name}@v2`, instances: rows } });
    expect(pinned.body.model).toEqual({ name, version: 2 });
    const model = await stack.api(`/v1/models/${name}`, { tenant: T });
    expect(model.body.latest_version).toBe(2);

    // Moving the alias moves name@production too.
    expect((await stack.api(`/v1/models/${name}/aliases/production`, { method: "PUT", tenant: T, json: { version: 2 } })).status).toBe(200);
    const moved = await stack.api("/v1/predict", { method: "POST", tenant: T, json: { model: `${name}@production`, instances: rows } });
    expect(moved.body.model).toEqual({ name, version: 2 });
  }, 120_000);

  it("runs a single node on a dataset (sync) and validates its input", async () => {
    const r = await stack.api("/v1/nodes/run", { method: "POST", tenant: T, json: { node_type: "missing_values", input: { strategy: "median", columns: ["age"] }, dataset_id: datasetId } });
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    expect(r.body.state, JSON.stringify(r.body.error)).toBe("SUCCESS");
    const out = r.body.result;
    expect(out.node_type).toBe("missing_values");
    expect(out.rows_in).toBe(600);
    expect(out.rows_out).toBe(600);
    const age = out.stats.find((s: { name: string }) => s.name === "age");
    expect(age.missing).toBe(0);
    expect(out.preview.length).toBeGreaterThan(0);
    // The result describes the output; the frame itself is not shipped in the task.
    expect(out.frame).toBeUndefined();

    // A model node trains in the trainer's thread pool; the result has its metrics, not the artifact.
    const clean = ["a,b,label", ...Array.from({ length: 200 }, (_, i) => `${i % 17},${(i * 7) % 23},${(i % 17) + ((i * 7) % 23) > 19 ? "yes" : "no"}`)].join("\n") + "\n";
    const cleanUp = await stack.api(`/v1/datasets?name=clean`, { method: "POST", tenant: T, headers: { "content-type": "text/csv" }, body: clean });
    expect(cleanUp.status).toBe(201);
    const fit = await stack.api("/v1/nodes/run", { method: "POST", tenant: T, json: { node_type: "model", input: { type: "random_forest", target: "label", params: { n_estimators: 10 } }, dataset_id: cleanUp.body.dataset_id } });
    expect(fit.status, JSON.stringify(fit.body).slice(0, 500)).toBe(200);
    expect(fit.body.state, JSON.stringify(fit.body.error)).toBe("SUCCESS");
    expect(fit.body.result).toMatchObject({ node_type: "model", rows_in: 200, training: { model_type: "random_forest", task: "classification" } });
    expect(fit.body.result.training.metrics.accuracy).toBeGreaterThan(0.5);
    expect(fit.body.result.training.artifact).toBeUndefined();

    const enc = await stack.api("/v1/nodes/run-async", { method: "POST", tenant: T, json: { node_type: "encode", input: { method: "one_hot", columns: ["plan"] }, dataset_id: datasetId } });
    expect(enc.status).toBe(202);
    const encDone = await taskIn(stack, T, enc.body.task_id, ["SUCCESS", "FAILURE"]);
    expect(encDone.state, JSON.stringify(encDone.error)).toBe("SUCCESS");
    expect(encDone.result.columns_out.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(["plan=basic", "plan=plus", "plan=pro"]));

    const before = await taskCount(stack, T);
    const badParam = await stack.api("/v1/nodes/run", { method: "POST", tenant: T, json: { node_type: "missing_values", input: { strategy: "guess" }, dataset_id: datasetId } });
    expect(badParam.status, JSON.stringify(badParam.body)).toBe(400);
    expect(badParam.body.error.field).toBe("input.strategy");
    const badColumn = await stack.api("/v1/nodes/run-async", { method: "POST", tenant: T, json: { node_type: "scale", input: { method: "standard", columns: ["age", "shoe_size"] }, dataset_id: datasetId } });
    expect(badColumn.status, JSON.stringify(badColumn.body)).toBe(400);
    expect(badColumn.body.error.field).toBe("input.columns[1]");
    const badModel = await stack.api("/v1/nodes/run", { method: "POST", tenant: T, json: { node_type: "model", input: { type: "random_forest", target: "churned" }, dataset_id: datasetId } });
    expect(badModel.status, JSON.stringify(badModel.body)).toBe(400);
    expect(badModel.body.error.field).toBe("input.target");
    const unknown = await stack.api("/v1/nodes/run", { method: "POST", tenant: T, json: { node_type: "teleport", input: {}, dataset_id: datasetId } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.field).toBe("node_type");
    const noDataset = await stack.api("/v1/nodes/run", { method: "POST", tenant: T, json: { node_type: "scale", input: { method: "standard" } } });
    expect(noDataset.status).toBe(400);
    expect(noDataset.body.error.field).toBe("dataset_id");
    expect(await taskCount(stack, T)).toBe(before);
  }, 120_000);
});
