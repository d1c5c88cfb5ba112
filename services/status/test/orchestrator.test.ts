import { afterEach, describe, expect, it } from "vitest";
import { Job, StatusServiceClient, TaskState } from "@millrace/contracts";
import { call, createLogger, GRPC_CHANNEL_OPTIONS, grpc, publishJob, ValidationError } from "@millrace/runtime";
import { dbFixture, natsFixture, waitFor, type DbFixture, type NatsFixture } from "@millrace/testkit";
import { Worker } from "@millrace/worker";
import { configSchema, startStatus, type StatusService } from "../src/main";

const logger = createLogger("orchestrator-test", "silent");

function step(kind: string, payload: Job["payload"], extra: Partial<Job> = {}): Job {
  return Job.fromPartial({ kind, queue: "default", retry: { maxAttempts: 1, initialMs: 10, factor: 1, maxMs: 10, jitter: 0 }, ...extra, payload });
}
const add = (n: number) => step("predict", { $case: "predict", value: { model: `add:${n}`, instancesJson: new Uint8Array() } });
const fail = () => step("predict", { $case: "predict", value: { model: "fail", instancesJson: new Uint8Array() } });
const slow = () => step("predict", { $case: "predict", value: { model: "slow", instancesJson: new Uint8Array() } });
const sum = () => step("explain", { $case: "explain", value: { model: "sum", instancesJson: new Uint8Array() } });

describe("workflows: chains, groups, chords (real NATS + Postgres)", () => {
  let nats: NatsFixture;
  let db: DbFixture;
  let svc: StatusService | undefined;
  let worker: Worker | undefined;
  let client: InstanceType<typeof StatusServiceClient>;

  async function boot() {
    nats = await natsFixture({ ackWaitMs: 5_000 });
    db = await dbFixture();
    svc = await startStatus(configSchema.parse({ NATS_URL: nats.natsUrl, DATABASE_URL: db.url, MILLRACE_NAMESPACE: nats.ns, STATUS_LISTEN: "127.0.0.1:0", HEALTH_PORT: "0", ORCHESTRATOR_SWEEP_MS: "500" }), { logger });
    client = new StatusServiceClient(`127.0.0.1:${svc.grpcPort}`, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
    // Test handlers: "add:N" adds N to the previous result; "sum" adds up a chord's results.
    worker = new Worker({
      service: "test",
      nc: nats.nc,
      topo: nats.topo,
      queues: ["default"],
      concurrency: 8,
      ackWaitMs: 5_000,
      logger,
      handlers: {
        predict: async (ctx) => {
          const p = ctx.job.payload;
          const model = p?.$case === "predict" ? p.value.model : "";
          if (model === "fail") throw new ValidationError("this step always fails", { field: "model" });
          if (model === "slow") return new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
          const prev = ctx.job.inputJson.length ? Number(JSON.parse(Buffer.from(ctx.job.inputJson).toString())) || 0 : 0;
          return prev + Number(model.split(":")[1]);
        },
        explain: async (ctx) => (JSON.parse(Buffer.from(ctx.job.inputJson).toString()) as number[]).reduce((a, b) => a + b, 0),
      },
    });
    await worker.start();
  }

  afterEach(async () => {
    await worker?.drain(500);
    client?.close();
    await svc?.close();
    await nats?.cleanup();
    await db?.cleanup();
  });

  async function submit(type: string, steps: Job[], callback?: Job, extra: Partial<Job> = {}): Promise<string> {
    const parent = Job.fromPartial({
      ...extra,
      taskId: `wf-${Math.random().toString(36).slice(2)}`,
      tenant: "acme",
      kind: "workflow",
      queue: "default",
      createdAtMs: Date.now(),
      payload: { $case: "workflow", value: { type, steps, callback, settleAll: false, spec: {} } },
    });
    await call(client, client.createTask, { job: parent, idempotencyKey: "", requestHash: "" });
    await publishJob(nats.nc.jetstream(), nats.topo, parent);
    return parent.taskId;
  }

  const get = (id: string) => call(client, client.getTask, { tenant: "acme", taskId: id });
  const terminal = (id: string) => waitFor(async () => ((await get(id)).state >= TaskState.SUCCESS ? get(id) : undefined), { what: `task ${id} terminal` });

  it("a chain passes each result to the next step", async () => {
    await boot();
    const id = await submit("chain", [add(1), add(10), add(100)]);
    const t = await terminal(id);
    expect(t.state).toBe(TaskState.SUCCESS);
    expect(JSON.parse(Buffer.from(t.resultJson).toString()).result).toBe(111);
    expect(t.children).toHaveLength(3);
    expect(t.progress?.total).toBe(3);
  });

  it("a workflow past its start_by is not started: REVOKED with code EXPIRED and no step runs; one in time runs", async () => {
    await boot();
    const late = await submit("chain", [add(1), add(2)], undefined, { startByMs: Date.now() - 1_000 });
    const onTime = await submit("chain", [add(1), add(2)], undefined, { startByMs: Date.now() + 60_000 });
    const expired = await terminal(late);
    expect(expired.state).toBe(TaskState.REVOKED);
    expect(expired.error).toMatchObject({ type: "TaskExpired", code: "EXPIRED", retryable: false });
    expect(expired.children).toEqual([]);
    expect(expired.startedAtMs).toBe(0);
    const ran = await terminal(onTime);
    expect(ran.state).toBe(TaskState.SUCCESS);
    expect(JSON.parse(Buffer.from(ran.resultJson).toString())).toMatchObject({ result: 3 });
    // Nothing was created for the late one's steps.
    expect((await db.pool.query("select count(*)::int as n from tasks where parent_id = $1", [late])).rows[0].n).toBe(0);
  });

  it("a chord runs its group in parallel, then the callback with every result", async () => {
    await boot();
    const id = await submit("chord", [add(1), add(2), add(3)], sum());
    const t = await terminal(id);
    expect(t.state).toBe(TaskState.SUCCESS);
    const r = JSON.parse(Buffer.from(t.resultJson).toString());
    expect(r.group_results).toEqual([1, 2, 3]);
    expect(r.result).toBe(6);
  });

  it("a chord whose child fails fails at once with the child's error, and its siblings are cancelled", async () => {
    await boot();
    const id = await submit("chord", [slow(), fail(), slow()], sum());
    const t = await terminal(id);
    expect(t.state).toBe(TaskState.FAILURE);
    expect(t.error?.type).toBe("ValidationError");
    expect(t.error?.message).toMatch(/step 1 .*always fails/);
    await waitFor(async () => (await get(`${id}-s0`)).state === TaskState.REVOKED && (await get(`${id}-s2`)).state === TaskState.REVOKED, { what: "siblings revoked" });
    // The callback never ran.
    await expect(get(`${id}-cb`)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("cancelling the parent cancels its children", async () => {
    await boot();
    const id = await submit("group", [slow(), slow()]);
    await waitFor(async () => (await get(`${id}-s0`)).state === TaskState.STARTED && (await get(`${id}-s1`)).state === TaskState.STARTED, { what: "children running" });
    const res = await call(client, client.cancelTask, { tenant: "acme", taskId: id, reason: "user" });
    expect(res.task?.state).toBe(TaskState.REVOKED);
    await waitFor(async () => (await get(`${id}-s0`)).state === TaskState.REVOKED && (await get(`${id}-s1`)).state === TaskState.REVOKED, { what: "children revoked" });
  });
});
