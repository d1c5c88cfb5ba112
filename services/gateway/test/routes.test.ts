// Pipelines, workflows, the model registry, schedules and workers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Job, TaskState, WorkerHeartbeat } from "@millrace/contracts";
import { uniqueName, waitFor } from "@millrace/testkit";
import { createHarness, requester, token, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ config: { SYNC_WAIT_MS: "1500" } });
});
afterAll(async () => h?.cleanup());

const lastJob = (kind: string): Promise<Job> => h.lastJob(kind);

async function seedDataset(tenant: string): Promise<string> {
  const id = uniqueName("ds");
  await h.db.pool.query(
    "insert into datasets (dataset_id, tenant, name, rows, columns, bytes, sha256, object_name) values ($1, $2, 'd', 3, $3, 10, 'x', $4)",
    [id, tenant, JSON.stringify([{ name: "a", type: "number" }, { name: "b", type: "category" }]), `${tenant}/${id}`],
  );
  return id;
}

describe("pipelines", () => {
  it("queues a pipeline validated by @millrace/ml; 400/404 name the node field before anything is queued", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    const ds = await seedDataset(tenant);
    const pipeline = [
      { node_type: "dataset", input: { dataset_id: ds } },
      { node_type: "encode", input: { method: "one_hot", columns: ["b"] } },
      { node_type: "split", input: { test_size: 0.25 } },
      { node_type: "model", input: { type: "linear_regression", target: "a" } },
    ];
    const model = pipeline[3];
    const before = await h.jobCount();
    for (const [body, status, field] of [
      [{ pipeline_name: "p", pipeline: [] }, 400, "pipeline"],
      [{ pipeline_name: "p", pipeline: [{ node_type: "Bad Node" }] }, 400, "pipeline[0].node_type"],
      [{ pipeline_name: "p", pipeline: [{ node_type: "teleport" }] }, 400, "pipeline[0].node_type"],
      [{ pipeline_name: "p", pipeline: [{ node_type: "scale", input: { method: "standard" } }, model] }, 400, "pipeline[0].node_type"],
      [{ pipeline_name: "p", pipeline: [{ node_type: "dataset", input: { dataset_id: "missing" } }, model] }, 404, "pipeline[0].input.dataset_id"],
      [{ pipeline_name: "p", pipeline: [pipeline[0], { node_type: "model", input: { type: "linear_regression", target: "zz" } }] }, 400, "pipeline[1].input.target"],
      [{ pipeline_name: "p", pipeline: [pipeline[0], { node_type: "encode", input: { method: "one_hot", columns: ["q"] } }, model] }, 400, "pipeline[1].input.columns[0]"],
      [{ pipeline_name: "p", pipeline: [pipeline[0], { node_type: "scale", input: { method: "zscore" } }, model] }, 400, "pipeline[1].input.method"],
    ] as const) {
      const res = await req("POST", "/v1/pipelines/run-async", body);
      expect(res.status, field).toBe(status);
      expect(((await res.json()) as any).error.field, JSON.stringify(body)).toBe(field);
    }
    expect(await h.jobCount()).toBe(before);

    const res = await req("POST", "/v1/pipelines/run-async", { pipeline_name: "My Pipeline", pipeline });
    expect(res.status).toBe(202);
    const job = await lastJob("pipeline");
    expect(job.taskId).toBe((await res.json() as any).task_id);
    expect(job.payload).toEqual({ $case: "pipeline", value: { pipelineName: "My Pipeline", singleNode: false, pipeline } });
  });

  it("runs one node on a dataset: [dataset, node] with singleNode", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    const ds = await seedDataset(tenant);
    const before = await h.jobCount();
    for (const [body, status, field] of [
      [{ node_type: "scale", input: { method: "standard" } }, 400, "dataset_id"],
      [{ node_type: "scale", input: { method: "standard" }, dataset_id: "nope" }, 404, "dataset_id"],
      [{ node_type: "scale", input: { methd: "standard" }, dataset_id: ds }, 400, "input.methd"],
      [{ node_type: "scale", input: {}, dataset_id: ds }, 400, "input.method"],
      [{ node_type: "dataset", input: { dataset_id: "nope" } }, 404, "input.dataset_id"],
    ] as const) {
      const res = await req("POST", "/v1/nodes/run-async", body);
      expect(res.status, field).toBe(status);
      expect(((await res.json()) as any).error.field).toBe(field);
    }
    expect(await h.jobCount()).toBe(before);
    const ok = await req("POST", "/v1/nodes/run-async", { node_type: "scale", input: { method: "standard" }, dataset_id: ds });
    expect(ok.status).toBe(202);
    expect((await lastJob("pipeline")).payload).toEqual({
      $case: "pipeline",
      value: {
        pipelineName: "node",
        singleNode: true,
        pipeline: [
          { node_type: "dataset", input: { dataset_id: ds } },
          { node_type: "scale", input: { method: "standard" } },
        ],
      },
    });
  });

  it("sync run: 200 with the task when it finishes in time, 202 with links when not", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    const ds = await seedDataset(tenant);
    const pipeline = [
      { node_type: "dataset", input: { dataset_id: ds } },
      { node_type: "model", input: { type: "decision_tree", target: "b" } },
    ];
    h.status.onCreate = (t) => {
      if (t.tenant === tenant) {
        h.status.update(t.taskId, { state: TaskState.PROGRESS, progress: { percent: 50, message: "", currentNode: 1, totalNodes: 2, nodeType: "model", done: 0, total: 0 } });
        h.status.update(t.taskId, { state: TaskState.SUCCESS, result: { success: true } });
      }
    };
    try {
      const done = await req("POST", "/v1/pipelines/run", { pipeline_name: "p", pipeline });
      expect(done.status).toBe(200);
      expect(await done.json()).toMatchObject({ type: "pipeline", state: "SUCCESS", result: { success: true } });
    } finally {
      h.status.onCreate = undefined;
    }
    // Nobody runs it: after SYNC_WAIT_MS the answer is 202 with the links.
    const slow = await req("POST", "/v1/nodes/run", { node_type: "scale", input: { method: "minmax" }, dataset_id: ds });
    expect(slow.status).toBe(202);
    const body = (await slow.json()) as any;
    expect(body).toMatchObject({ state: "PENDING", status_url: `/v1/tasks/${body.task_id}` });
  });
});

describe("workflows", () => {
  it("validates each step with its kind's schema and queues one workflow job", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    const before = await h.jobCount();
    for (const [spec, field, message] of [
      [{ type: "pipe", steps: [] }, "type"],
      [{ type: "chain", steps: [] }, "steps"],
      [{ type: "chain", steps: [{ kind: "nope" }] }, "steps[0].kind"],
      [{ type: "group", tasks: [{ kind: "predict", payload: { model: "m", instances: [] } }] }, "tasks[0].payload.instances"],
      [{ type: "chord", tasks: [{ kind: "forecast", payload: { product_sku: "A" } }] }, "callback"],
      [{ type: "chord", steps: [{ kind: "forecast", payload: { product_sku: "A" } }], callback: { kind: "forecast", payload: { product_sku: "A" } } }, "tasks", "tasks: a chord lists its steps in 'tasks', not 'steps'"],
      [{ type: "chain", tasks: [{ kind: "forecast", payload: { product_sku: "A" } }] }, "steps", "steps: a chain lists its steps in 'steps', not 'tasks'"],
      [{ type: "chain", steps: [{ type: "group", tasks: [{ kind: "train", payload: { dataset_id: "d", target: "y", model: { type: "svm" }, name: "n" } }] }] }, "steps[0].tasks[0].payload.model.type"],
      [{ type: "chain", steps: [{ kind: "forecast", payload: { product_sku: "A" }, start_within_ms: 1000 }] }, "steps[0].start_within_ms", "steps[0].start_within_ms: applies to the whole workflow (set it at the top level), not to one step"],
      [{ type: "chain", start_within_ms: -5, steps: [{ kind: "forecast", payload: { product_sku: "A" } }] }, "start_within_ms"],
      [{ type: "chain", expires: 60, steps: [{ kind: "forecast", payload: { product_sku: "A" } }] }, "expires", "expires: unknown field; use start_within_ms"],
      [{ type: "chain", steps: [{ kind: "forecast", payload: { product_sku: "A" }, retries: 2 }] }, "steps[0].retries", "steps[0].retries: unknown field"],
      [{ type: "group", tasks: [{ kind: "forecast", payload: { product_sku: "A", horizon: 7 } }] }, "tasks[0].payload.horizon", "tasks[0].payload.horizon: unknown field"],
    ] as const) {
      const res = await req("POST", "/v1/workflows", spec);
      expect(res.status, field).toBe(400);
      const error = (await res.json() as any).error;
      expect(error.field).toBe(field);
      if (message) expect(error.message).toBe(message);
    }
    expect(await h.jobCount()).toBe(before);

    const spec = {
      type: "chord",
      name: "nightly-batch",
      start_within_ms: 60_000,
      tasks: [
        { kind: "forecast", payload: { product_sku: "A", days: 3 } },
        { kind: "predict", payload: { model: "m@prod", instances: [{ x: 1 }] }, queue: "high" },
      ],
      callback: { kind: "maintenance", payload: { action: "validate_models" } },
    };
    const res = await req("POST", "/v1/workflows", spec);
    expect(res.status).toBe(202);
    const job = await lastJob("workflow");
    expect(job.name).toBe("nightly-batch");
    expect(job.startByMs).toBe(Number(job.createdAtMs) + 60_000);
    if (job.payload?.$case !== "workflow") throw new Error("not a workflow job");
    const wf = job.payload.value;
    // The normalized spec, for display.
    expect(wf.spec).toEqual({
      type: "chord",
      tasks: [
        { kind: "forecast", payload: { product_sku: "A", days: 3 } },
        { kind: "predict", payload: { model: "m@prod", instances: [{ x: 1 }] }, queue: "high" },
      ],
      callback: { kind: "maintenance", payload: { action: "validate_models" } },
    });
    // What the orchestrator runs: one Job per step.
    expect(wf.type).toBe("chord");
    expect(wf.settleAll).toBe(false);
    expect(wf.steps.map((s) => [s.kind, s.queue, s.payload?.$case])).toEqual([
      ["forecast", "", "forecast"],
      ["predict", "high", "predict"],
    ]);
    expect(wf.steps[0].payload).toEqual({ $case: "forecast", value: { productSku: "A", days: 3, trainIfMissing: true } });
    const predict = wf.steps[1].payload;
    expect(predict?.$case === "predict" && JSON.parse(Buffer.from(predict.value.instancesJson).toString())).toEqual([{ x: 1 }]);
    expect(wf.callback?.payload).toEqual({ $case: "maintenance", value: { action: "validate_models", params: undefined } });
  });

  it("nests a workflow as a step of kind workflow", async () => {
    const req = requester(h.app, await token(uniqueName("tenant_")));
    const res = await req("POST", "/v1/workflows", {
      type: "chain",
      steps: [
        { kind: "train_product", payload: { product_sku: "A" } },
        { type: "group", tasks: [{ kind: "forecast", payload: { product_sku: "A" } }, { kind: "forecast", payload: { product_sku: "B" } }], queue: "batch" },
      ],
    });
    expect(res.status).toBe(202);
    const job = await lastJob("workflow");
    if (job.payload?.$case !== "workflow") throw new Error("not a workflow job");
    const nested = job.payload.value.steps[1];
    expect(nested.kind).toBe("workflow");
    expect(nested.queue).toBe("batch");
    expect(nested.payload?.$case === "workflow" && nested.payload.value.steps.map((s) => s.kind)).toEqual(["forecast", "forecast"]);
  });
});

describe("models", () => {
  it("reads the registry and sets aliases, scoped to the tenant", async () => {
    const tenant = uniqueName("tenant_");
    const version = {
      name: "house",
      version: 2,
      createdAtMs: 1_700_000_000_000,
      datasetId: "d1",
      datasetHash: "abc",
      pipeline: undefined,
      params: { depth: 3 },
      metrics: { r2: 0.9 },
      backend: "cpu",
      artifactBytes: 1234,
      modelType: "decision_tree",
      taskId: "t1",
      aliases: [],
      target: "price",
    };
    h.predictor.models.set(`${tenant}/house`, { name: "house", latestVersion: 2, aliases: {}, createdAtMs: 1, updatedAtMs: 2, versions: [version] });
    const req = requester(h.app, await token(tenant));
    const list = await (await req("GET", "/v1/models")).json() as any;
    expect(list.models).toEqual([expect.objectContaining({ name: "house", latest_version: 2 })]);
    const one = await (await req("GET", "/v1/models/house")).json() as any;
    expect(one.versions[0]).toMatchObject({ version: 2, model_type: "decision_tree", metrics: { r2: 0.9 }, target: "price" });
    expect((await (await req("GET", "/v1/models/house/versions/v2")).json() as any).artifact_bytes).toBe(1234);
    expect((await req("GET", "/v1/models/house/versions/9")).status).toBe(404);
    const alias = await req("PUT", "/v1/models/house/aliases/prod", { version: 2 });
    expect(alias.status).toBe(200);
    expect((await alias.json() as any).aliases).toEqual({ prod: 2 });
    expect((await req("PUT", "/v1/models/house/aliases/prod", { version: "two" })).status).toBe(400);
    expect((await requester(h.app, await token(uniqueName("other_")))("GET", "/v1/models/house")).status).toBe(404);
  });
});

describe("schedules", () => {
  it("creates, reads, patches, triggers and deletes through the scheduler", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    const bad = await req("POST", "/v1/schedules", { name: "n", cron: "0 2 * * *", interval_seconds: 60, kind: "forecast", payload: { product_sku: "A" } });
    expect((await bad.json() as any).error.field).toBe("cron");
    const badPayload = await req("POST", "/v1/schedules", { name: "n", cron: "0 2 * * *", kind: "forecast", payload: { days: 3 } });
    expect((await badPayload.json() as any).error.field).toBe("payload.product_sku");
    // An action the trainer does not have is refused here, not queued to fail at 3 a.m.
    const badAction = await req("POST", "/v1/schedules", { name: "n", cron: "0 2 * * *", kind: "maintenance", payload: { action: "build_reports" } });
    expect(badAction.status).toBe(400);
    expect((await badAction.json() as any).error).toMatchObject({ field: "payload.action", message: expect.stringContaining("cleanup_expired_results, validate_models") });
    const badTz = await req("POST", "/v1/schedules", { name: "n", cron: "0 2 * * *", kind: "train_all_products", payload: { product_skus: ["A"] }, timezone: "Mars/Olympus" });
    expect((await badTz.json() as any).error.field).toBe("timezone");
    // A field schedules do not have is said, not silently dropped (Celery beat's `args` here).
    const badKey = await req("POST", "/v1/schedules", { name: "n", cron: "0 2 * * *", kind: "forecast", payload: { product_sku: "A" }, args: [1] });
    expect(badKey.status).toBe(400);
    expect((await badKey.json() as any).error).toMatchObject({ field: "args", message: "args: unknown field" });

    const created = await req("POST", "/v1/schedules", { name: "nightly", cron: "0 2 * * *", timezone: "Europe/Oslo", kind: "forecast", payload: { product_sku: "A", days: 7 }, queue: "batch" });
    expect(created.status).toBe(201);
    expect(await created.json() as any).toMatchObject({ name: "nightly", cron: "0 2 * * *", timezone: "Europe/Oslo", kind: "forecast", enabled: true, queue: "batch", catch_up: "skip" });
    expect(h.scheduler.upserts.at(-1)?.schedule).toMatchObject({ tenant, payload: { product_sku: "A", days: 7, train_if_missing: true } });
    const predictSchedule = await req("POST", "/v1/schedules", { name: "scoring", interval_seconds: 3600, kind: "predict", payload: { model: "m@prod", instances: [{ x: 1 }] } });
    expect(predictSchedule.status).toBe(201);
    // The scheduler decodes payloads with PredictJob.fromJSON: instances travel as base64 instances_json.
    expect(h.scheduler.upserts.at(-1)?.schedule.payload).toEqual({ model: "m@prod", instances_json: Buffer.from('[{"x":1}]').toString("base64") });
    // Read back in the request's own terms, so a GET's payload can be sent back in a PATCH.
    expect((await predictSchedule.json() as any).payload).toEqual({ model: "m@prod", instances: [{ x: 1 }] });
    const readBack = (await (await req("GET", "/v1/schedules/scoring")).json() as any).payload;
    expect(readBack).toEqual({ model: "m@prod", instances: [{ x: 1 }] });
    expect((await req("PATCH", "/v1/schedules/scoring", { payload: readBack })).status).toBe(200);
    expect(h.scheduler.upserts.at(-1)?.schedule.payload).toEqual({ model: "m@prod", instances_json: Buffer.from('[{"x":1}]').toString("base64") });
    const chain = { type: "chain", steps: [{ kind: "predict", payload: { model: "m", instances: [{ x: 1 }] } }, { kind: "forecast", payload: { product_sku: "A", days: 3 } }] };
    const wf = await req("POST", "/v1/schedules", { name: "wf", cron: "0 4 * * *", kind: "workflow", payload: chain });
    expect(wf.status).toBe(201);
    expect((await wf.json() as any).payload).toMatchObject(chain);
    const wfBack = (await (await req("GET", "/v1/schedules/wf")).json() as any).payload;
    expect(wfBack).not.toHaveProperty("steps.0.predict");
    expect((await req("PATCH", "/v1/schedules/wf", { payload: wfBack })).status).toBe(200);
    expect((await req("DELETE", "/v1/schedules/wf")).status).toBe(200);
    const fc = await req("POST", "/v1/schedules", { name: "fc", cron: "0 4 * * *", kind: "forecast", payload: { product_sku: "A", days: 3 } });
    expect((await fc.json() as any).payload).toEqual({ product_sku: "A", days: 3 });
    expect((await req("DELETE", "/v1/schedules/fc")).status).toBe(200);
    expect((await req("DELETE", "/v1/schedules/scoring")).status).toBe(200);
    expect((await req("POST", "/v1/schedules", { name: "nightly", interval_seconds: 60, kind: "maintenance", payload: { action: "validate_models" } })).status).toBe(409);

    const patched = await req("PATCH", "/v1/schedules/nightly", { enabled: false, catch_up: "run_once" });
    expect(patched.status).toBe(200);
    expect(await patched.json() as any).toMatchObject({ enabled: false, catch_up: "run_once", cron: "0 2 * * *" });
    expect(h.scheduler.upserts.at(-1)?.fields.sort()).toEqual(["catch_up", "enabled"]);

    expect((await (await req("GET", "/v1/schedules")).json() as any).schedules).toHaveLength(1);
    expect((await req("GET", "/v1/schedules/nightly")).status).toBe(200);
    const fired = await req("POST", "/v1/schedules/nightly/trigger");
    expect(fired.status).toBe(202);
    expect(await fired.json() as any).toMatchObject({ schedule: "nightly", task_id: "task-from-schedule", status_url: "/v1/tasks/task-from-schedule" });
    expect((await (await req("GET", "/v1/schedules/nightly/runs")).json() as any).runs).toEqual([]);
    expect((await requester(h.app, await token(uniqueName("other_")))("GET", "/v1/schedules/nightly")).status).toBe(404);
    expect((await req("DELETE", "/v1/schedules/nightly")).status).toBe(200);
    expect((await req("DELETE", "/v1/schedules/nightly")).status).toBe(404);
  });

  it("gives its fires' jobs retry, time_limits and start_within_ms; a PATCH of one keeps the others, and null clears it", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    const created = await req("POST", "/v1/schedules", {
      name: "guarded",
      cron: "0 2 * * *",
      kind: "forecast",
      payload: { product_sku: "A" },
      retry: { max_attempts: 4 },
      time_limits: { hard_ms: 60_000 },
      start_within_ms: 3_600_000,
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ retry: { max_attempts: 4, jitter: 0.5 }, time_limits: { hard_ms: 60_000 }, start_within_ms: 3_600_000 });
    expect(h.scheduler.upserts.at(-1)?.schedule.jobOptions).toMatchObject({ retry: { maxAttempts: 4 }, timeLimits: { softMs: 0, hardMs: 60_000 }, startWithinMs: 3_600_000 });

    const patched = await req("PATCH", "/v1/schedules/guarded", { start_within_ms: null });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ retry: { max_attempts: 4 }, time_limits: { hard_ms: 60_000 }, start_within_ms: null });
    expect(h.scheduler.upserts.at(-1)?.fields).toEqual(["start_within_ms"]);

    // The name may come back as read; the scheduler's stamps may not be set.
    expect((await req("PATCH", "/v1/schedules/guarded", { name: "guarded", enabled: false })).status).toBe(200);
    const stamp = await req("PATCH", "/v1/schedules/guarded", { next_fire_at: "2030-01-01T00:00:00Z" });
    expect(stamp.status).toBe(400);
    expect(((await stamp.json()) as any).error).toMatchObject({ field: "next_fire_at", message: "next_fire_at: read-only, kept by the scheduler" });

    const bad = await req("PATCH", "/v1/schedules/guarded", { time_limits: { soft_ms: 500, hard_ms: 100 } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.field).toBe("time_limits.hard_ms");
  });

  it("answers 409 QUOTA_EXCEEDED naming the limit when the tenant's schedules are used up", async () => {
    const req = requester(h.app, await token(uniqueName("tenant_")));
    const body = (name: string) => ({ name, cron: "0 2 * * *", kind: "maintenance", payload: { action: "validate_models" } });
    h.scheduler.maxPerTenant = 1;
    try {
      expect((await req("POST", "/v1/schedules", body("first"))).status).toBe(201);
      const over = await req("POST", "/v1/schedules", body("second"));
      expect(over.status).toBe(409);
      expect((await over.json() as any).error).toMatchObject({ code: "QUOTA_EXCEEDED", field: "name", limit: 1, message: expect.stringContaining("most allowed is 1") });
    } finally {
      h.scheduler.maxPerTenant = undefined;
    }
  });
});

describe("GET /v1/workers", () => {
  it("lists the heartbeats in the workers bucket, with only the caller's own in-flight task ids", async () => {
    const tenant = uniqueName("tenant_");
    const kv = await h.nats.nc.jetstream().views.kv(h.nats.topo.bucket("workers"));
    const at = Date.now();
    await kv.put(
      "trainer-1",
      WorkerHeartbeat.encode({
        workerId: "trainer-1",
        host: "node-a",
        service: "trainer",
        queues: ["default", "high"],
        kinds: ["train"],
        backend: "wasm",
        inFlightTasks: [
          { taskId: "t1", tenant },
          { taskId: "someone-elses", tenant: "other-tenant" },
        ],
        processed: 10,
        failed: 1,
        rssBytes: 123_456,
        heapUsedBytes: 1000,
        startedAtMs: at - 60_000,
        atMs: at,
        pid: 42,
      }).finish(),
    );
    const req = requester(h.app, await token(tenant));
    const workers = await waitFor(async () => {
      const w = await (await req("GET", "/v1/workers")).json() as any;
      return w.workers?.length ? w.workers : undefined;
    });
    expect(workers).toEqual([
      expect.objectContaining({
        id: "trainer-1",
        host: "node-a",
        queues: ["default", "high"],
        kinds: ["train"],
        backend: "wasm",
        in_flight: ["t1"],
        in_flight_count: 2,
        processed: 10,
        failed: 1,
        rss_bytes: 123_456,
        last_seen: new Date(at).toISOString(),
      }),
    ]);
  });
});

describe("errors", () => {
  it("unknown routes are JSON 404s", async () => {
    const res = await requester(h.app, await token("t"))("GET", "/v1/nope");
    expect(res.status).toBe(404);
    expect((await res.json() as any).error.code).toBe("NOT_FOUND");
  });
});
