// Task creation: validation before anything is created, exactly one job per
// task on its subject, idempotency, and a status service that is down.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Job } from "@millrace/contracts";
import { uniqueName } from "@millrace/testkit";
import { connectNats, connectPostgres } from "@millrace/runtime";
import { Submissions } from "@millrace/submissions";
import { buildApp } from "../src/main";
import { createHarness, requester, token, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ config: { MAX_BODY_BYTES: "4096", MAX_INSTANCES: "5" } });
});
afterAll(async () => h?.cleanup());

async function seedDataset(tenant: string, columns = [{ name: "x", type: "number" }, { name: "y", type: "number" }, { name: "city", type: "category" }]): Promise<string> {
  const id = uniqueName("ds");
  await h.db.pool.query(
    "insert into datasets (dataset_id, tenant, name, rows, columns, bytes, sha256, object_name) values ($1, $2, 'd', 3, $3, 10, 'x', $4)",
    [id, tenant, JSON.stringify(columns), `${tenant}/${id}`],
  );
  return id;
}

describe("POST /v1/train", () => {
  let tenant: string;
  let req: ReturnType<typeof requester>;
  beforeEach(async () => {
    tenant = uniqueName("tenant_");
    req = requester(h.app, await token(tenant));
  });

  it("answers 202 with links and publishes exactly one job with Nats-Msg-Id = task id", async () => {
    const ds = await seedDataset(tenant);
    const before = await h.jobCount();
    const res = await req("POST", "/v1/train", { dataset_id: ds, target: "y", model: { type: "linear_regression", params: { alpha: 0.1 } }, name: "m1" });
    expect(res.status).toBe(202);
    const body = await res.json() as any;
    expect(body).toMatchObject({ state: "PENDING", status_url: `/v1/tasks/${body.task_id}`, result_url: `/v1/tasks/${body.task_id}/result` });
    expect(body.cancel_url).toBe(`/v1/tasks/${body.task_id}/cancel`);
    expect(body.events_url).toBe(`/v1/tasks/${body.task_id}/events`);
    expect(res.headers.get("location")).toBe(`/v1/tasks/${body.task_id}`);
    expect(await h.jobCount()).toBe(before + 1);

    const jsm = await h.nats.nc.jetstreamManager();
    const msg = await jsm.streams.getMessage(h.nats.topo.jobsStream, { last_by_subj: h.nats.topo.jobSubject("train", "default") });
    expect(msg.header.get("Nats-Msg-Id")).toBe(body.task_id);
    const job = Job.decode(msg.data);
    expect(job).toMatchObject({ taskId: body.task_id, tenant, kind: "train", queue: "default", name: "m1" });
    expect(job.payload).toEqual({
      $case: "train",
      value: { datasetId: ds, target: "y", model: { type: "linear_regression", params: { alpha: 0.1 } }, name: "m1", options: undefined },
    });
    // The status service was asked to record it first, with the same job.
    const created = h.status.created.find((c) => c.job?.taskId === body.task_id);
    expect(created?.job?.kind).toBe("train");
  });

  it("routes to the requested queue with retry and time limits", async () => {
    const ds = await seedDataset(tenant);
    const res = await req("POST", "/v1/train", {
      dataset_id: ds,
      target: "y",
      model: { type: "random_forest" },
      name: "m2",
      queue: "high",
      retry: { max_attempts: 5, initial_ms: 200 },
      time_limits: { soft_ms: 1000, hard_ms: 2000 },
    });
    expect(res.status).toBe(202);
    const { task_id } = await res.json() as any;
    const job = await h.lastJob("train", "high");
    expect(job.taskId).toBe(task_id);
    expect(job.retry).toMatchObject({ maxAttempts: 5, initialMs: 200, factor: 0, maxMs: 0, jitter: 0.5 });
    expect(job.timeLimits).toEqual({ softMs: 1000, hardMs: 2000 });
  });

  it("an unknown field is a 400 naming it, not dropped; Celery's option names get the Millrace one", async () => {
    const ds = await seedDataset(tenant);
    const good = { dataset_id: ds, target: "y", model: { type: "linear_regression" }, name: "m" };
    const before = await h.jobCount();
    for (const [extra, message] of [
      [{ expires: 3600 }, "expires: unknown field; use start_within_ms"],
      [{ time_limit: 60 }, "time_limit: unknown field; use time_limits.hard_ms"],
      [{ soft_time_limit: 30 }, "soft_time_limit: unknown field; use time_limits.soft_ms"],
      [{ max_retries: 3 }, "max_retries: unknown field; use retry.max_attempts"],
      [{ countdown: 30 }, "countdown: unknown field; use a schedule (POST /v1/schedules); a job starts when a worker is free"],
      [{ retry: { max_attempts: 2, backoff: 2 } }, "retry.backoff: unknown field"],
      [{ naem: "m2" }, "naem: unknown field"],
    ] as const) {
      const res = await req("POST", "/v1/train", { ...good, ...extra });
      expect(res.status, message).toBe(400);
      expect(((await res.json()) as any).error).toMatchObject({ code: "VALIDATION", message });
    }
    expect(await h.jobCount()).toBe(before);
  });

  it("start_within_ms sets the job's start_by, counted from its creation, and the 202 shows it; without it there is none", async () => {
    const ds = await seedDataset(tenant);
    const res = await req("POST", "/v1/train", { dataset_id: ds, target: "y", model: { type: "linear_regression" }, name: "m3", start_within_ms: 90_000 });
    expect(res.status).toBe(202);
    const body = (await res.json()) as any;
    const job = await h.lastJob("train", "default");
    expect(job.taskId).toBe(body.task_id);
    expect(job.startByMs).toBe(Number(job.createdAtMs) + 90_000);
    expect(body.start_by).toBe(new Date(job.startByMs).toISOString());

    const plain = await req("POST", "/v1/train", { dataset_id: ds, target: "y", model: { type: "linear_regression" }, name: "m4" });
    const plainBody = (await plain.json()) as any;
    expect((await h.lastJob("train", "default")).startByMs).toBe(0);
    expect(plainBody.start_by).toBeUndefined();
  });

  it.each([
    [{ target: "y", model: { type: "linear_regression" }, name: "m" }, "dataset_id"],
    ["DATASET", "model.type"],
    ["TARGET", "target"],
    ["NAME", "name"],
    ["QUEUE", "queue"],
    ["RETRY", "retry.max_attempts"],
    ["LIMITS", "time_limits.hard_ms"],
    ["PARAMS", "model.params.max_depth"],
    ["TASK", "target"],
    ["START_ZERO", "start_within_ms"],
    ["START_TEXT", "start_within_ms"],
    ["UNKNOWN", "time_limit"],
    ["UNKNOWN_NESTED", "model.parameters"],
  ] as const)("400 naming the field and nothing published (%#)", async (variant, field) => {
    const ds = await seedDataset(tenant);
    const good = { dataset_id: ds, target: "y", model: { type: "linear_regression" }, name: "m" };
    const body =
      typeof variant === "object"
        ? variant
        : {
            DATASET: { ...good, model: { type: "quantum_forest" } },
            TARGET: { ...good, target: "nope" },
            NAME: { ...good, name: "-bad name" },
            QUEUE: { ...good, queue: "urgent" },
            RETRY: { ...good, retry: { max_attempts: 0 } },
            LIMITS: { ...good, time_limits: { soft_ms: 500, hard_ms: 100 } },
            PARAMS: { ...good, model: { type: "decision_tree", params: { max_depth: "deep" } } },
            TASK: { ...good, target: "city" },
            START_ZERO: { ...good, start_within_ms: 0 },
            START_TEXT: { ...good, start_within_ms: "1h" },
            UNKNOWN: { ...good, time_limit: 100 },
            UNKNOWN_NESTED: { ...good, model: { type: "decision_tree", parameters: { max_depth: 3 } } },
          }[variant];
    const before = await h.jobCount();
    const createdBefore = h.status.created.length;
    const res = await req("POST", "/v1/train", body);
    expect(res.status).toBe(400);
    const err = (await res.json() as any).error;
    expect(err.code).toBe("VALIDATION");
    expect(err.field).toBe(field);
    expect(err.message).toContain(field);
    expect(await h.jobCount()).toBe(before);
    expect(h.status.created.length).toBe(createdBefore);
  });

  it("404 naming dataset_id for an unknown or another tenant's dataset", async () => {
    const other = await seedDataset(uniqueName("other_"));
    const before = await h.jobCount();
    const res = await req("POST", "/v1/train", { dataset_id: other, target: "y", model: { type: "decision_tree" }, name: "m" });
    expect(res.status).toBe(404);
    expect((await res.json() as any).error).toMatchObject({ code: "NOT_FOUND", field: "dataset_id" });
    expect(await h.jobCount()).toBe(before);
  });

  it("400 naming the body for malformed JSON", async () => {
    const before = await h.jobCount();
    const res = await req("POST", "/v1/train", "{not json");
    expect(res.status).toBe(400);
    expect((await res.json() as any).error).toMatchObject({ code: "VALIDATION", field: "body" });
    expect(await h.jobCount()).toBe(before);
  });

  it("400 naming the body for JSON nested deeper than 64 levels, with or without an Idempotency-Key; nothing created", async () => {
    // A maintenance step's params are free-form: nothing but the depth check stands in the way.
    const deep = "[".repeat(200) + "]".repeat(200);
    const body = `{"type":"chain","steps":[{"kind":"maintenance","payload":{"action":"validate_models","params":{"a":${deep}}}}]}`;
    const jobs = await h.jobCount();
    const created = h.status.created.length;
    for (const headers of [{}, { "idempotency-key": "deep-1" }] as Record<string, string>[]) {
      const res = await h.app.request("/v1/workflows", { method: "POST", headers: { authorization: `Bearer ${await token(tenant)}`, "content-type": "application/json", ...headers }, body });
      expect(res.status).toBe(400);
      expect((await res.json() as any).error).toMatchObject({ code: "VALIDATION", field: "body", message: "request body nests deeper than 64 levels" });
    }
    expect(await h.jobCount()).toBe(jobs);
    expect(h.status.created.length).toBe(created);
  });

  it("413 for a body over MAX_BODY_BYTES, declared or streamed", async () => {
    const before = await h.jobCount();
    const big = JSON.stringify({ dataset_id: "x", target: "y", model: { type: "linear_regression" }, name: "m", pad: "x".repeat(5000) });
    const res = await req("POST", "/v1/train", big);
    expect(res.status).toBe(413);
    expect((await res.json() as any).error.code).toBe("PAYLOAD_TOO_LARGE");
    // Chunked (no Content-Length): counted while reading.
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (let i = 0; i < 10; i++) ctrl.enqueue(new TextEncoder().encode(big.slice(i * 600, (i + 1) * 600)));
        ctrl.close();
      },
    });
    const res2 = await h.app.request("/v1/train", {
      method: "POST",
      headers: { authorization: `Bearer ${await token(tenant)}`, "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(res2.status).toBe(413);
    expect(await h.jobCount()).toBe(before);
  });

  it("415 naming content-type for a body declared as a form or CSV; nothing created. No Content-Type and text/plain read as JSON", async () => {
    const ds = await seedDataset(tenant);
    const body = JSON.stringify({ dataset_id: ds, target: "y", model: { type: "linear_regression" }, name: "m" });
    const jobs = await h.jobCount();
    const created = h.status.created.length;
    // curl -d without -H sends application/x-www-form-urlencoded.
    for (const ct of ["application/x-www-form-urlencoded", "text/csv", "multipart/form-data; boundary=x"]) {
      const res = await req("POST", "/v1/train", body, { "content-type": ct });
      expect(res.status, ct).toBe(415);
      expect((await res.json() as any).error, ct).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE", field: "content-type", message: `content-type ${ct.split(";")[0]} is not JSON; send the body as application/json` });
    }
    const async = await req("POST", "/v1/predict/async", JSON.stringify({ model: "m", instances: [{ x: 1 }] }), { "content-type": "application/x-www-form-urlencoded" });
    expect(async.status).toBe(415);
    expect(await h.jobCount()).toBe(jobs);
    expect(h.status.created.length).toBe(created);

    // fetch with a string body and no headers sends text/plain;charset=UTF-8.
    const init = { method: "POST", headers: { authorization: `Bearer ${await token(tenant)}` }, body };
    expect(new Request("http://gateway/v1/train", init).headers.get("content-type")).toBe("text/plain;charset=UTF-8");
    expect((await h.app.request("/v1/train", init)).status).toBe(202);
    for (const ct of ["application/json; charset=utf-8", "application/merge-patch+json"]) {
      expect((await req("POST", "/v1/train", body, { "content-type": ct })).status, ct).toBe(202);
    }
    expect(await h.jobCount()).toBe(jobs + 3);
  });
});

describe("routing", () => {
  it("405 with Allow for a route asked with another method; 404 for a path no route has; 401 before either without a token", async () => {
    const req = requester(h.app, await token(uniqueName("tenant_")));
    const cases: Array<[string, string, string]> = [
      ["PUT", "/v1/train", "POST"],
      ["GET", "/v1/predict", "POST"],
      ["PATCH", "/v1/tasks/3f1c9a56-1111-4222-8333-444455556666", "GET, HEAD, DELETE"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await req(method, path);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow"), `${method} ${path}`).toBe(allow);
      expect((await res.json() as any).error).toMatchObject({ code: "METHOD_NOT_ALLOWED", message: `${method} is not allowed on ${path}; allowed: ${allow}` });
    }
    const none = await req("GET", "/v1/no-such-thing");
    expect(none.status).toBe(404);
    expect((await none.json() as any).error.code).toBe("NOT_FOUND");
    expect((await h.app.request("/v1/train", { method: "PUT" })).status).toBe(401);
  });
});

describe("idempotency", () => {
  it("replays the same task for the same key and body, 422 for a different body", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    const key = uniqueName("key-");
    const body = { model: "m@v1", instances: [{ x: 1 }] };
    const before = await h.jobCount();
    const a = await req("POST", "/v1/predict/async", body, { "idempotency-key": key });
    expect(a.status).toBe(202);
    const first = await a.json() as any;
    // Same body with keys in another order: same canonical hash.
    const b = await req("POST", "/v1/predict/async", { instances: [{ x: 1 }], model: "m@v1" }, { "idempotency-key": key });
    expect(b.status).toBe(202);
    expect((await b.json() as any).task_id).toBe(first.task_id);
    expect(b.headers.get("idempotent-replayed")).toBe("true");
    expect(await h.jobCount()).toBe(before + 1);

    const c = await req("POST", "/v1/predict/async", { model: "m@v1", instances: [{ x: 2 }] }, { "idempotency-key": key });
    expect(c.status).toBe(422);
    expect((await c.json() as any).error).toMatchObject({ code: "IDEMPOTENCY_CONFLICT", field: "Idempotency-Key" });
    expect(await h.jobCount()).toBe(before + 1);
  });
});

describe("predict", () => {
  it("async: 202 and a predict job carrying the instances as JSON bytes", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    const res = await req("POST", "/v1/predict/async", { model: "house@prod", instances: [{ x: 1 }, { x: 2 }], queue: "batch" });
    expect(res.status).toBe(202);
    const { task_id } = await res.json() as any;
    const job = await h.lastJob("predict", "batch");
    expect(job.taskId).toBe(task_id);
    expect(job.payload?.$case).toBe("predict");
    if (job.payload?.$case === "predict") {
      expect(job.payload.value.model).toBe("house@prod");
      expect(JSON.parse(Buffer.from(job.payload.value.instancesJson).toString())).toEqual([{ x: 1 }, { x: 2 }]);
    }
  });

  it("async: 404 naming model when the name, version or alias names no model of the tenant; nothing recorded or published", async () => {
    const tenant = uniqueName("tenant_");
    h.predictor.models.set(`${tenant}/house`, { name: "house", latestVersion: 1, aliases: {}, createdAtMs: 1, updatedAtMs: 1, versions: [] });
    h.predictor.models.set(`${uniqueName("other_")}/theirs`, { name: "theirs", latestVersion: 1, aliases: {}, createdAtMs: 1, updatedAtMs: 1, versions: [] });
    const req = requester(h.app, await token(tenant));
    h.predictor.strictModels = true;
    try {
      const before = await h.jobCount();
      const createdBefore = h.status.created.length;
      for (const [kind, model] of [["predict", "nomodel"], ["explain", "nomodel@v2"], ["predict", "theirs"]] as const) {
        const res = await req("POST", `/v1/${kind}/async`, { model, instances: [{ x: 1 }] });
        expect(res.status).toBe(404);
        expect((await res.json() as any).error).toMatchObject({ code: "NOT_FOUND", field: "model" });
      }
      expect(await h.jobCount()).toBe(before);
      expect(h.status.created.length).toBe(createdBefore);
      // A model of the tenant's own is queued, and asked about once however many jobs name it.
      for (let i = 0; i < 3; i++) expect((await req("POST", "/v1/predict/async", { model: "house", instances: [{ x: i }] })).status).toBe(202);
      expect(await h.jobCount()).toBe(before + 3);
      expect(h.predictor.resolves.filter((r) => r === `${tenant}/house`)).toHaveLength(1);
    } finally {
      h.predictor.strictModels = false;
    }
  });

  it("413 naming instances over MAX_INSTANCES; 400 for empty or non-object rows; nothing published", async () => {
    const req = requester(h.app, await token(uniqueName("tenant_")));
    const before = await h.jobCount();
    const six = Array.from({ length: 6 }, (_, i) => ({ x: i }));
    const r1 = await req("POST", "/v1/predict/async", { model: "m", instances: six });
    expect(r1.status).toBe(413);
    expect((await r1.json() as any).error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", field: "instances" });
    const r2 = await req("POST", "/v1/predict/async", { model: "m", instances: [] });
    expect(r2.status).toBe(400);
    expect((await r2.json() as any).error.field).toBe("instances");
    const r3 = await req("POST", "/v1/predict/async", { model: "m", instances: [{ x: 1 }, 7] });
    expect((await r3.json() as any).error.field).toBe("instances[1]");
    const r4 = await req("POST", "/v1/predict/async", { model: "bad model!", instances: [{ x: 1 }] });
    expect((await r4.json() as any).error.field).toBe("model");
    expect(await h.jobCount()).toBe(before);
  });

  it("sync: 200 from the predictor, typed errors become 404/400, and the tenant is passed", async () => {
    const tenant = uniqueName("tenant_");
    h.predictor.models.set(`${tenant}/house`, { name: "house", latestVersion: 3, aliases: {}, createdAtMs: 1, updatedAtMs: 1, versions: [] });
    const req = requester(h.app, await token(tenant));
    const before = await h.jobCount();
    const ok = await req("POST", "/v1/predict", { model: "house@v3", instances: [{ x: 1 }, { x: 2.5 }] });
    expect(ok.status).toBe(200);
    expect(await ok.json() as any).toEqual({ model: { name: "house", version: 3 }, predictions: [2, 5], backend: "cpu" });
    expect(h.predictor.requests.at(-1)?.tenant).toBe(tenant);
    // The predictor's input warnings (a column the model ignores) reach the caller; none are rendered when there are none.
    const extra = await req("POST", "/v1/predict", { model: "house", instances: [{ x: 1, id: 9 }] });
    expect(await extra.json() as any).toEqual({
      model: { name: "house", version: 3 },
      predictions: [2],
      backend: "cpu",
      warnings: [{ code: "COLUMN_UNKNOWN", column: "id", message: "column 'id' is not an input of the model and was ignored" }],
    });

    const missing = await requester(h.app, await token(uniqueName("other_")))("POST", "/v1/predict", { model: "house", instances: [{ x: 1 }] });
    expect(missing.status).toBe(404);
    expect((await missing.json() as any).error.code).toBe("NOT_FOUND");

    const bad = await req("POST", "/v1/predict", { model: "house", instances: [{ y: 1 }] });
    expect(bad.status).toBe(400);
    expect((await bad.json() as any).error).toMatchObject({ code: "VALIDATION", field: "instances[0].x" });

    const explain = await req("POST", "/v1/explain", { model: "house", instances: [{ x: 1 }] });
    expect(explain.status).toBe(200);
    const explained = await explain.json() as any;
    expect(explained.explanations[0].contributions).toEqual({ x: 2 });
    expect(explained).not.toHaveProperty("warnings");
    const explainExtra = await req("POST", "/v1/explain", { model: "house", instances: [{ x: 1, id: 9 }] });
    expect((await explainExtra.json() as any).warnings).toEqual([{ code: "COLUMN_UNKNOWN", column: "id", message: "column 'id' is not an input of the model and was ignored" }]);
    // Sync calls never queue anything.
    expect(await h.jobCount()).toBe(before);
  });
});

describe("when the task cannot be recorded", () => {
  it("answers 503 DEPENDENCY_UNAVAILABLE and publishes nothing, with or without an Idempotency-Key", async () => {
    // The real recorder over a pool that has been closed: every write on it fails.
    const pool = await connectPostgres({ url: h.db.url });
    await pool.end();
    const app = buildApp({ ...h.deps, submissions: new Submissions(pool, { clock: h.deps.clock, idempotencyTtlMs: 60_000 }) });
    const req = requester(app, await token(uniqueName("tenant_")));
    const before = await h.jobCount();
    for (const headers of [{}, { "idempotency-key": uniqueName("k") }] as Record<string, string>[]) {
      const res = await req("POST", "/v1/predict/async", { model: "m", instances: [{ x: 1 }] }, headers);
      expect(res.status).toBe(503);
      expect((await res.json() as any).error).toMatchObject({ code: "DEPENDENCY_UNAVAILABLE", message: expect.stringContaining("could not be recorded") });
    }
    expect(await h.jobCount()).toBe(before);
  });
});

describe("when publishing fails", () => {
  it("still answers 202: the PENDING row exists and the reconciler republishes", async () => {
    const tenant = uniqueName("tenant_");
    // A connection that is closed: every publish on it throws.
    const closed = await connectNats({ url: h.nats.natsUrl, name: "closed" });
    await closed.close();
    const failing = { ...h.deps, nc: closed };
    const { buildApp } = await import("../src/main");
    const app = buildApp(failing);
    const before = await h.jobCount();
    const res = await requester(app, await token(tenant))("POST", "/v1/predict/async", { model: "m", instances: [{ x: 1 }] });
    expect(res.status).toBe(202);
    const { task_id } = await res.json() as any;
    expect(h.status.tasks.get(task_id)?.tenant).toBe(tenant);
    expect(await h.jobCount()).toBe(before);
  });
});
