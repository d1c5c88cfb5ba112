import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictorServiceClient, SchedulerServiceClient, StatusServiceClient } from "@millrace/contracts";
import { grpc, grpcClientOptions } from "@millrace/runtime";
import { linesCsv as csv, startStack, taskIn, type Stack } from "./harness";

describe("end to end: the five services as separate processes", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 180_000);
  afterAll(async () => stack?.stop());

  it("upload → train → SUCCESS → async predict → sync predict, with 401, 400 and a cross-tenant 404", async () => {
    // No token: 401, and the gateway says how to authenticate.
    const anon = await stack.api("/v1/tasks/whatever");
    expect(anon.status).toBe(401);

    const up = await stack.api("/v1/datasets?name=lines", { method: "POST", tenant: "acme", headers: { "content-type": "text/csv" }, body: csv() });
    expect(up.status).toBe(201);
    expect(up.body.rows).toBe(200);
    expect(up.body.columns.map((c: { name: string }) => c.name)).toEqual(["x1", "x2", "color", "y"]);
    const datasetId = up.body.dataset_id;

    // Bad input names the field and queues nothing.
    const bad = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: { dataset_id: datasetId, target: "nope", model: { type: "linear_regression" }, name: "lines" } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/target/);
    const badType = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: { dataset_id: datasetId, target: "y", model: { type: "quantum_forest" }, name: "lines" } });
    expect(badType.status).toBe(400);
    expect(JSON.stringify(badType.body)).toMatch(/model\.type/);

    const train = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: { dataset_id: datasetId, target: "y", model: { type: "linear_regression" }, name: "lines" } });
    expect(train.status).toBe(202);
    expect(train.body).toMatchObject({ state: "PENDING", status_url: `/v1/tasks/${train.body.task_id}` });
    const trained = await taskIn(stack, "acme", train.body.task_id, ["SUCCESS", "FAILURE"], 120_000);
    expect(trained.state, JSON.stringify(trained.error)).toBe("SUCCESS");
    expect(trained.result.model).toEqual({ name: "lines", version: 1 });
    expect(trained.result.metrics.r2).toBeGreaterThan(0.99);
    expect(trained.result.fit_ms).toBeGreaterThan(0);
    expect(trained.attempts).toBe(1);
    expect(trained.started_at).toBeTruthy();
    expect(trained.duration_ms).toBeGreaterThanOrEqual(0);
    // The trainer gave each imputer the dataset's own columns: most_frequent takes only the category column.
    const version = await stack.api("/v1/models/lines/versions/1", { tenant: "acme" });
    expect(version.status).toBe(200);
    expect(version.body.pipeline.pipeline.filter((n: { node_type: string }) => n.node_type === "missing_values").map((n: { input: unknown }) => n.input)).toEqual([
      { strategy: "mean", columns: ["x1", "x2"] },
      { strategy: "most_frequent", columns: ["color"] },
    ]);

    // Another tenant cannot see the task or the dataset.
    expect((await stack.api(`/v1/tasks/${train.body.task_id}`, { tenant: "intruder" })).status).toBe(404);
    expect((await stack.api(`/v1/datasets/${datasetId}`, { tenant: "intruder" })).status).toBe(404);

    const asyncPredict = await stack.api("/v1/predict/async", { method: "POST", tenant: "acme", json: { model: "lines", instances: [{ x1: 1, x2: 1, color: "red" }, { x1: 2, x2: 0, color: "blue" }] } });
    expect(asyncPredict.status).toBe(202);
    const predicted = await taskIn(stack, "acme", asyncPredict.body.task_id, ["SUCCESS", "FAILURE"]);
    expect(predicted.state, JSON.stringify(predicted.error)).toBe("SUCCESS");
    expect(predicted.result.predictions[0]).toBeCloseTo(6, 1);
    expect(predicted.result.predictions[1]).toBeCloseTo(11, 1);

    const sync = await stack.api("/v1/predict", { method: "POST", tenant: "acme", json: { model: "lines@v1", instances: [{ x1: 0, x2: 0, color: "red" }] } });
    expect(sync.status).toBe(200);
    expect(sync.body.model).toEqual({ name: "lines", version: 1 });
    expect(sync.body.predictions[0]).toBeCloseTo(5, 1);
    expect(predicted.result).not.toHaveProperty("warnings");
    expect(sync.body).not.toHaveProperty("warnings");

    // A mistyped column still predicts (x1 is imputed), but the answer says so, sync and async.
    const typo = { model: "lines", instances: [{ X_1: 0, x2: 0, color: "red", id: 1 }] };
    const warned = [
      { code: "COLUMN_ABSENT", column: "x1", message: "column 'x1' is absent from every instance; it was treated as missing in all of them" },
      { code: "COLUMN_UNKNOWN", column: "X_1", message: "column 'X_1' is not an input of the model and was ignored; did you mean 'x1'?" },
      { code: "COLUMN_UNKNOWN", column: "id", message: "column 'id' is not an input of the model and was ignored" },
    ];
    const syncTypo = await stack.api("/v1/predict", { method: "POST", tenant: "acme", json: typo });
    expect(syncTypo.status).toBe(200);
    expect(syncTypo.body.warnings).toEqual(warned);
    const asyncTypo = await stack.api("/v1/predict/async", { method: "POST", tenant: "acme", json: typo });
    const typoDone = await taskIn(stack, "acme", asyncTypo.body.task_id, ["SUCCESS", "FAILURE"]);
    expect(typoDone.result.warnings).toEqual(warned);

    // An async job for a model that does not exist, or is another tenant's, is a 404 at submit: nothing is queued.
    for (const tenant of ["acme", "intruder"]) {
      const unknown = await stack.api("/v1/predict/async", { method: "POST", tenant, json: { model: tenant === "acme" ? "no-such-model" : "lines", instances: [{ x1: 1 }] } });
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toMatchObject({ code: "NOT_FOUND", field: "model" });
    }

    const listed = await stack.api("/v1/tasks?limit=1", { tenant: "acme" });
    expect(listed.status).toBe(200);
    expect(listed.body.tasks).toHaveLength(1);
    expect(listed.body.next_cursor).toBeTruthy();
    const page2 = await stack.api(`/v1/tasks?limit=1&cursor=${encodeURIComponent(listed.body.next_cursor)}`, { tenant: "acme" });
    expect(page2.body.tasks[0].task_id).not.toBe(listed.body.tasks[0].task_id);
  }, 240_000);

  it("the services' gRPC ports answer only callers holding the service token: a tenant in a gRPC request is not taken from just anyone", async () => {
    const token = stack.env.GRPC_SERVICE_TOKEN;
    const pingCode = (Ctor: typeof StatusServiceClient | typeof PredictorServiceClient | typeof SchedulerServiceClient, addr: string, t: string | undefined) => {
      type Pingable = { ping(req: object, cb: (err: grpc.ServiceError | null) => void): unknown; close(): void };
      const c = new Ctor(addr, grpc.credentials.createInsecure(), grpcClientOptions(t)) as unknown as Pingable;
      return new Promise<grpc.status>((res) => c.ping({}, (err: grpc.ServiceError | null) => res(err ? err.code : grpc.status.OK))).finally(() => c.close());
    };
    const ports = [
      [StatusServiceClient, stack.env.STATUS_GRPC_ADDR],
      [PredictorServiceClient, stack.env.PREDICTOR_GRPC_ADDR],
      [SchedulerServiceClient, stack.env.SCHEDULER_GRPC_ADDR],
    ] as const;
    for (const [Ctor, addr] of ports) {
      expect(await pingCode(Ctor, addr, undefined), `${addr} without the token`).toBe(grpc.status.UNAUTHENTICATED);
      expect(await pingCode(Ctor, addr, "someone-elses-token-000"), `${addr} with a wrong one`).toBe(grpc.status.UNAUTHENTICATED);
      expect(await pingCode(Ctor, addr, token), `${addr} with the stack's`).toBe(grpc.status.OK);
    }
    // A tenant named directly over gRPC, without the token, reads nothing.
    const status = new StatusServiceClient(stack.env.STATUS_GRPC_ADDR, grpc.credentials.createInsecure(), grpcClientOptions(undefined));
    const code = await new Promise<grpc.status>((res) => status.listTasks({ tenant: "acme", limit: 10, cursor: "", state: "", type: "" } as never, (err: grpc.ServiceError | null) => res(err ? err.code : grpc.status.OK)));
    status.close();
    expect(code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("column types chosen at upload hold in training (an integer code trained as a category)", async () => {
    const rows = ["zip,y", ...Array.from({ length: 60 }, (_, i) => `${[75001, 69002, 13003][i % 3]},${[10, 20, 30][i % 3] + (i % 5) * 0.01}`)];
    const up = await stack.api("/v1/datasets?name=zips&types=zip:category", { method: "POST", tenant: "acme", headers: { "content-type": "text/csv" }, body: rows.join("\n") });
    expect(up.status).toBe(201);
    expect(up.body.columns).toContainEqual({ name: "zip", type: "category" });
    const t = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: { dataset_id: up.body.dataset_id, target: "y", model: { type: "linear_regression" }, name: "zips" } });
    const done = await taskIn(stack, "acme", t.body.task_id, ["SUCCESS", "FAILURE"], 120_000);
    expect(done.state, JSON.stringify(done.error)).toBe("SUCCESS");
    // One-hot encoded as a category, not used as a number.
    expect(done.result.feature_names.some((f: string) => f.startsWith("zip="))).toBe(true);
  }, 180_000);
});
