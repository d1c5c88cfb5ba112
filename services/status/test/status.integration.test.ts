import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { Job, StatusServiceClient, Task, TaskChangedBatch, TaskEvent, TaskState, TrainAllProductsJob, WorkerHeartbeat } from "@millrace/contracts";
import { call, createLogger, encodeEvent, GRPC_CHANNEL_OPTIONS, grpc, ManualClock, publishEvent, publishEventBatch } from "@millrace/runtime";
import { dbFixture, natsFixture, waitFor, type DbFixture, type NatsFixture } from "@millrace/testkit";
import { configSchema, startStatus, type StatusService } from "../src/main";
import { LIST_RESULT_MAX_BYTES } from "../src/store";

const logger = createLogger("status-test", "silent");

function job(taskId: string, tenant = "acme"): Job {
  return {
    taskId,
    tenant,
    kind: "train",
    queue: "default",
    createdAtMs: Date.now(),
    retry: undefined,
    timeLimits: undefined,
    parentId: "",
    attemptBase: 0,
    concurrencyKey: "",
    name: "m",
    inputJson: new Uint8Array(),
    generation: 0,
    startByMs: 0,
    payload: { $case: "train", value: { datasetId: "d", target: "y", model: { type: "linear_regression", params: {} }, name: "m", options: undefined } },
  };
}

function event(j: Job, state: TaskState, attempt: number, seq: number, extra: Partial<TaskEvent> = {}): TaskEvent {
  return {
    eventId: "",
    taskId: j.taskId,
    tenant: j.tenant,
    kind: j.kind,
    queue: j.queue,
    parentId: "",
    createdAtMs: j.createdAtMs,
    state,
    attempt,
    seq,
    atMs: Date.now(),
    progress: undefined,
    resultJson: new Uint8Array(),
    error: undefined,
    nextAttemptAtMs: 0,
    workerId: "w",
    name: j.name,
    generation: 0,
    ...extra,
  };
}

describe("status service (real NATS + Postgres)", () => {
  let nats: NatsFixture;
  let db: DbFixture;
  let svc: StatusService | undefined;
  let client: InstanceType<typeof StatusServiceClient>;

  async function boot(extra: Record<string, string> = {}, clock?: ManualClock, log = logger) {
    const config = configSchema.parse({ NATS_URL: nats.natsUrl, DATABASE_URL: db.url, MILLRACE_NAMESPACE: nats.ns, STATUS_LISTEN: "127.0.0.1:0", HEALTH_PORT: "0", ...extra });
    svc = await startStatus(config, { logger: log, clock });
    client = new StatusServiceClient(`127.0.0.1:${svc.grpcPort}`, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
  }

  /** Follows WatchTask: every task sent so far, and a promise of the stream's end. */
  function watch(tenant: string, taskId: string, history: boolean): { seen: Task[]; ended: Promise<void> } {
    const seen: Task[] = [];
    const stream = client.watchTask({ tenant, taskId, history });
    const ended = new Promise<void>((resolve, reject) => {
      stream.on("data", (t: Task) => seen.push(t));
      stream.on("end", () => resolve());
      stream.on("error", reject);
    });
    return { seen, ended };
  }

  /** Every change notice from now on, decoded, and the subscription to end. */
  async function collectNotices(): Promise<{ messages: TaskChangedBatch[]; sub: { unsubscribe(): void } }> {
    const messages: TaskChangedBatch[] = [];
    const sub = nats.nc.subscribe(nats.topo.changedBatch, { callback: (_e, m) => messages.push(TaskChangedBatch.decode(m.data)) });
    await nats.nc.flush();
    return { messages, sub };
  }

  afterEach(async () => {
    client?.close();
    await svc?.close();
    svc = undefined;
    await nats?.cleanup();
    await db?.cleanup();
  });

  it("records a PENDING task, projects events, and hides it from other tenants", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const j = job("task-a");
    const created = await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    expect(created).toMatchObject({ existing: false, conflict: false });
    expect((await call(client, client.getTask, { tenant: "acme", taskId: "task-a" })).state).toBe(TaskState.PENDING);
    const js = nats.nc.jetstream();
    await publishEvent(js, nats.topo, event(j, TaskState.STARTED, 1, 1));
    await publishEvent(js, nats.topo, event(j, TaskState.SUCCESS, 1, 2, { resultJson: Buffer.from('{"rmse":1.5}') }));
    // A late STARTED must not overwrite SUCCESS.
    await publishEvent(js, nats.topo, event(j, TaskState.STARTED, 1, 1, { eventId: "dup-started" }));
    const done = await waitFor(async () => {
      const t = await call(client, client.getTask, { tenant: "acme", taskId: "task-a" });
      return t.state === TaskState.SUCCESS ? t : undefined;
    });
    expect(JSON.parse(Buffer.from(done.resultJson).toString())).toEqual({ rmse: 1.5 });
    expect(done.attempts).toBe(1);
    await svc!.projector.drained();
    expect((await call(client, client.getTask, { tenant: "acme", taskId: "task-a" })).state).toBe(TaskState.SUCCESS);
    await expect(call(client, client.getTask, { tenant: "other", taskId: "task-a" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("logs one line per transition with task_id, also when STARTED and SUCCESS are projected in one batch, and none for a further progress update", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const lines: { msg: string; task_id?: string; state?: string }[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    // The events are in the stream before the service starts, so its first pull reads both at once.
    const j = job("task-log");
    const js = nats.nc.jetstream();
    await publishEvent(js, nats.topo, event(j, TaskState.STARTED, 1, 1));
    // Two progress updates: one transition (STARTED → PROGRESS), not two lines.
    await publishEvent(js, nats.topo, event(j, TaskState.PROGRESS, 1, 2, { progress: { percent: 10, message: "epoch 1", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 } }));
    await publishEvent(js, nats.topo, event(j, TaskState.PROGRESS, 1, 3, { progress: { percent: 60, message: "epoch 6", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 } }));
    await publishEvent(js, nats.topo, event(j, TaskState.SUCCESS, 1, 4));
    await boot({}, undefined, createLogger("status-test", "info", sink));
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "task-log" })).state === TaskState.SUCCESS);
    await svc!.projector.drained();
    const transitions = lines.filter((l) => l.msg === "task transition" && l.task_id === "task-log").map((l) => l.state);
    expect(transitions).toEqual(["STARTED", "PROGRESS", "SUCCESS"]);
  });

  it("lists small results and leaves large ones out, with their size; GetTask still has them", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const [small, large] = [job("r-small"), job("r-large")];
    for (const j of [small, large]) await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    const big = JSON.stringify({ predictions: Array.from({ length: 2_000 }, (_, i) => i + 0.5) });
    expect(big.length).toBeGreaterThan(LIST_RESULT_MAX_BYTES);
    const js = nats.nc.jetstream();
    await publishEvent(js, nats.topo, event(small, TaskState.SUCCESS, 1, 1, { resultJson: Buffer.from('{"predictions":[1]}') }));
    await publishEvent(js, nats.topo, event(large, TaskState.SUCCESS, 1, 1, { resultJson: Buffer.from(big) }));
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "r-large" })).state === TaskState.SUCCESS);
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "r-small" })).state === TaskState.SUCCESS);
    const r = await call(client, client.listTasks, { tenant: "acme", kind: "", limit: 10, cursor: "", parentId: "", state: TaskState.TASK_STATE_UNSPECIFIED, activeOnly: false });
    const byId = new Map(r.tasks.map((t) => [t.taskId, t]));
    expect(JSON.parse(Buffer.from(byId.get("r-small")!.resultJson).toString())).toEqual({ predictions: [1] });
    expect(byId.get("r-small")!.omittedResultBytes).toBe(0);
    expect(byId.get("r-large")!.resultJson.length).toBe(0);
    // jsonb's text form: what the task's /result sends.
    const stored = await db.pool.query("select octet_length(result::text) as n from tasks where task_id = 'r-large'");
    expect(byId.get("r-large")!.omittedResultBytes).toBe(stored.rows[0].n);
    expect(Buffer.from((await call(client, client.getTask, { tenant: "acme", taskId: "r-large" })).resultJson).length).toBeGreaterThan(LIST_RESULT_MAX_BYTES);
  });

  it("lists running tasks for active_only (not queued, not retrying), and retrying ones by state", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const [queued, running, retrying] = [job("l-queued"), job("l-running"), job("l-retrying")];
    for (const j of [queued, running, retrying]) await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    const js = nats.nc.jetstream();
    await publishEvent(js, nats.topo, event(running, TaskState.STARTED, 1, 1));
    await publishEvent(js, nats.topo, event(retrying, TaskState.STARTED, 1, 1));
    await publishEvent(js, nats.topo, event(retrying, TaskState.RETRY, 1, 2, { nextAttemptAtMs: Date.now() + 60_000 }));
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "l-retrying" })).state === TaskState.RETRY);
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "l-running" })).state === TaskState.STARTED);
    const ids = (r: { tasks: Task[] }) => r.tasks.map((t) => t.taskId);
    const base = { tenant: "acme", kind: "", limit: 10, cursor: "", parentId: "" };
    expect(ids(await call(client, client.listTasks, { ...base, state: TaskState.TASK_STATE_UNSPECIFIED, activeOnly: true }))).toEqual(["l-running"]);
    expect(ids(await call(client, client.listTasks, { ...base, state: TaskState.RETRY, activeOnly: false }))).toEqual(["l-retrying"]);
    // A cursor that decodes to a time outside Date's range is the caller's error, not a 500.
    for (const cursor of [Buffer.from("99999999999999999999|x").toString("base64url"), Buffer.from("abc|x").toString("base64url"), "no-bar"]) {
      await expect(call(client, client.listTasks, { ...base, state: TaskState.TASK_STATE_UNSPECIFIED, activeOnly: false, cursor })).rejects.toMatchObject({ code: "VALIDATION", field: "cursor" });
    }
  });

  it("replaying the whole event stream into an empty database gives the same rows", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const js = nats.nc.jetstream();
    const jobs = Array.from({ length: 30 }, (_, i) => job(`r-${i}`));
    for (const j of jobs) {
      await publishEvent(js, nats.topo, event(j, TaskState.STARTED, 1, 1));
      await publishEvent(js, nats.topo, event(j, TaskState.PROGRESS, 1, 2, { progress: { percent: 40, message: "m", currentNode: 1, totalNodes: 3, nodeType: "scale", done: 0, total: 0 } }));
      if (Number(j.taskId.slice(2)) % 3 === 0) await publishEvent(js, nats.topo, event(j, TaskState.FAILURE, 1, 3, { error: { type: "DataError", message: "x", code: "DATA", retryable: false } }));
      else await publishEvent(js, nats.topo, event(j, TaskState.SUCCESS, 1, 3, { resultJson: Buffer.from(`{"i":"${j.taskId}"}`) }));
    }
    // And ten short jobs whose events a worker stored as one batch message.
    const short = Array.from({ length: 10 }, (_, i) => job(`b-${i}`));
    const batched = short.flatMap((j) => [event(j, TaskState.STARTED, 1, 1), event(j, TaskState.SUCCESS, 1, 2, { resultJson: Buffer.from(`[${j.taskId.length}]`) })]);
    await publishEventBatch(js, nats.topo, batched.map((e) => encodeEvent(e).data), "replay-batch");
    const snapshot = async () =>
      (await db.pool.query("select task_id, tenant, kind, state, attempt, seq, progress, result, error, history, created_at, started_at, finished_at, expires_at from tasks order by task_id")).rows;
    await waitFor(async () => (await db.pool.query("select count(*)::int n from tasks where state in ('SUCCESS','FAILURE')")).rows[0].n === 40);
    const before = await snapshot();
    await svc!.close();
    svc = undefined;
    // Empty the table and rewind the projector to the start of the stream.
    await db.pool.query("truncate tasks");
    const jsm = await nats.nc.jetstreamManager();
    await jsm.consumers.delete(nats.topo.eventsStream, nats.topo.projectorConsumer);
    await boot();
    await waitFor(async () => (await db.pool.query("select count(*)::int n from tasks where state in ('SUCCESS','FAILURE')")).rows[0].n === 40);
    expect(await snapshot()).toEqual(before);
  });

  it("announces the changes of one commit in one notice message, each finished task whole", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const { messages, sub } = await collectNotices();
    const js = nats.nc.jetstream();
    const short = Array.from({ length: 12 }, (_, i) => job(`n-${i}`, i % 2 ? "acme" : "globex"));
    const events = short.flatMap((j) => [event(j, TaskState.STARTED, 1, 1), event(j, TaskState.SUCCESS, 1, 2, { resultJson: Buffer.from(`{"i":"${j.taskId}"}`) })]);
    await publishEventBatch(js, nats.topo, events.map((e) => encodeEvent(e).data), "notice-batch");
    const seen = () => new Map(messages.flatMap((b) => b.taskIds.map((id, i) => [id, { state: b.states[i], task: b.finished[i].length ? Task.decode(b.finished[i]) : undefined }] as const)));
    await waitFor(() => seen().size === 12, { what: "notices of all twelve tasks" });
    // One projection commit (the events came in one message), so one notice, not twelve.
    expect(messages.length).toBe(1);
    for (const j of short) {
      const n = seen().get(j.taskId)!;
      expect(n.state).toBe(TaskState.SUCCESS);
      expect(n.task).toMatchObject({ taskId: j.taskId, tenant: j.tenant, state: TaskState.SUCCESS, attempts: 1 });
      expect(JSON.parse(Buffer.from(n.task!.resultJson).toString())).toEqual({ i: j.taskId });
    }
    sub.unsubscribe();
  });

  it("keeps a submit's start_by through the projection: GetTask and a finished task's notice carry it", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const { messages, sub } = await collectNotices();
    const base = job("sb-dated");
    const dated = { ...base, startByMs: Number(base.createdAtMs) + 60_000 };
    const plain = job("sb-plain");
    for (const j of [dated, plain]) await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    expect((await call(client, client.getTask, { tenant: "acme", taskId: "sb-dated" })).startByMs).toBe(dated.startByMs);
    // Both lives in one message: the no-read path over the submitted rows, which no event tells the start_by.
    const events = [dated, plain].flatMap((j) => [event(j, TaskState.STARTED, 1, 1), event(j, TaskState.SUCCESS, 1, 2, { resultJson: Buffer.from("1") })]);
    await publishEventBatch(nats.nc.jetstream(), nats.topo, events.map((e) => encodeEvent(e).data), "sb-batch");
    const finished = () => new Map(messages.flatMap((b) => b.taskIds.map((id, i) => [id, b.finished[i]] as const)).filter(([, f]) => f.length).map(([id, f]) => [id, Task.decode(f)]));
    await waitFor(() => finished().size === 2, { what: "both finished notices" });
    expect(finished().get("sb-dated")!.startByMs).toBe(dated.startByMs);
    expect(finished().get("sb-plain")!.startByMs).toBe(0);
    const got = await call(client, client.getTask, { tenant: "acme", taskId: "sb-dated" });
    expect(got).toMatchObject({ state: TaskState.SUCCESS, startByMs: dated.startByMs });
    sub.unsubscribe();
  });

  it("sends the finished task in its change notice; a retry clears the last attempt's progress and its notice drops it from caches", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const notices: { taskId: string; state: TaskState; task?: Task }[] = [];
    const sub = nats.nc.subscribe(nats.topo.changedBatch, {
      callback: (_e, m) => {
        const b = TaskChangedBatch.decode(m.data);
        b.taskIds.forEach((taskId, i) => notices.push({ taskId, state: b.states[i], task: b.finished[i].length ? Task.decode(b.finished[i]) : undefined }));
      },
    });
    const j = job("pend-2");
    const js = nats.nc.jetstream();
    await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });

    await publishEvent(js, nats.topo, event(j, TaskState.STARTED, 1, 1));
    await publishEvent(js, nats.topo, event(j, TaskState.PROGRESS, 1, 2, { progress: { percent: 40, message: "tree 40/100", currentNode: 0, totalNodes: 0, nodeType: "", done: 40, total: 100 } }));
    await publishEvent(js, nats.topo, event(j, TaskState.FAILURE, 1, 3, { error: { type: "DataError", message: "bad", code: "DATA", retryable: false } }));
    const done = await waitFor(() => notices.find((n) => n.state === TaskState.FAILURE));
    expect(done.task).toMatchObject({ taskId: "pend-2", tenant: "acme", state: TaskState.FAILURE, attempts: 1, progress: { percent: 40, message: "tree 40/100" } });
    expect(done.task?.error?.type).toBe("DataError");

    // A manual retry re-publishes the job and tells caches of finished tasks to drop the old outcome.
    const jobsBefore = (await (await nats.nc.jetstreamManager()).streams.info(nats.topo.jobsStream)).state.messages;
    const retried = await call(client, client.retryTask, { tenant: "acme", taskId: "pend-2" });
    expect(retried.task?.state).toBe(TaskState.PENDING);
    // The failed attempt's progress is not shown as the new run's.
    expect(retried.task?.progress).toBeUndefined();
    const dropped = await waitFor(() => notices.find((n) => n.state === TaskState.PENDING));
    expect(dropped.task).toBeUndefined();
    expect((await (await nats.nc.jetstreamManager()).streams.info(nats.topo.jobsStream)).state.messages).toBe(jobsBefore + 1);
    sub.unsubscribe();
  });

  it("counts a tenant's tasks: by queue, kind and state since a time, and every unfinished one however old", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const clock = new ManualClock(Date.now());
    await boot({}, clock);
    const now = clock.now();
    const make = async (id: string, tenant: string, createdAtMs: number) => {
      const j = { ...job(id, tenant), createdAtMs };
      await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
      return j;
    };
    await make("count-old", "acme", now - 3 * 86_400_000); // PENDING for three days
    const ok = await make("count-ok", "acme", now - 1_000);
    const bad = await make("count-bad", "acme", now - 1_000);
    const running = await make("count-run", "acme", now - 1_000);
    await make("count-other", "globex", now - 1_000);
    const js = nats.nc.jetstream();
    await publishEvent(js, nats.topo, event(ok, TaskState.STARTED, 1, 1));
    await publishEvent(js, nats.topo, event(ok, TaskState.SUCCESS, 1, 2));
    await publishEvent(js, nats.topo, event(bad, TaskState.STARTED, 1, 1));
    await publishEvent(js, nats.topo, event(bad, TaskState.FAILURE, 1, 2, { error: { type: "DataError", message: "bad", code: "DATA", retryable: false } }));
    await publishEvent(js, nats.topo, event(running, TaskState.STARTED, 1, 1));
    const stateOf = async (id: string) => (await call(client, client.getTask, { tenant: "acme", taskId: id })).state;
    await waitFor(async () => (await stateOf("count-ok")) === TaskState.SUCCESS && (await stateOf("count-bad")) === TaskState.FAILURE && (await stateOf("count-run")) === TaskState.STARTED);

    const r = await call(client, client.countTasks, { tenant: "acme", sinceMs: now - 3_600_000 });
    const flat = (rows: { queue: string; kind: string; state: TaskState; count: number }[]) => rows.map((x) => [x.queue, x.kind, x.state, Number(x.count)]).sort();
    // The three-day-old PENDING task is not recent, and globex's is not acme's.
    expect(flat(r.recent)).toEqual(
      [
        ["default", "train", TaskState.STARTED, 1],
        ["default", "train", TaskState.SUCCESS, 1],
        ["default", "train", TaskState.FAILURE, 1],
      ].sort(),
    );
    expect(flat(r.unfinished)).toEqual(
      [
        ["default", "train", TaskState.PENDING, 1],
        ["default", "train", TaskState.STARTED, 1],
      ].sort(),
    );
  });

  it("a manual retry keeps a start_by deadline's window, counted from the retry", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const clock = new ManualClock(Date.now());
    await boot({}, clock);
    const j = { ...job("deadline-1"), createdAtMs: clock.now(), startByMs: clock.now() + 5_000 };
    await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    await publishEvent(nats.nc.jetstream(), nats.topo, event(j, TaskState.REVOKED, 1, 1, { error: { type: "TaskExpired", message: "late", code: "EXPIRED", retryable: false } }));
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "deadline-1" })).state === TaskState.REVOKED);
    clock.advance(3_600_000);
    await call(client, client.retryTask, { tenant: "acme", taskId: "deadline-1" });
    const jsm = await nats.nc.jetstreamManager();
    const msg = await jsm.streams.getMessage(nats.topo.jobsStream, { last_by_subj: nats.topo.jobSubject("train", "default") });
    const requeued = Job.decode(msg.data);
    expect(requeued).toMatchObject({ taskId: "deadline-1", generation: 1 });
    // Without the move, the retry would be expired on arrival: its old start_by is an hour gone.
    expect(requeued.startByMs).toBe(clock.now() + 5_000);
    // And the task shows the new deadline.
    expect((await call(client, client.getTask, { tenant: "acme", taskId: "deadline-1" })).startByMs).toBe(clock.now() + 5_000);
  });

  it("idempotency key returns the same task, a different body conflicts", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const a = await call(client, client.createTask, { job: job("i-1"), idempotencyKey: "k1", requestHash: "h1" });
    const b = await call(client, client.createTask, { job: job("i-2"), idempotencyKey: "k1", requestHash: "h1" });
    const c = await call(client, client.createTask, { job: job("i-3"), idempotencyKey: "k1", requestHash: "h2" });
    expect(a.existing).toBe(false);
    expect(b.existing).toBe(true);
    expect(b.task?.taskId).toBe("i-1");
    expect(c.conflict).toBe(true);
    const count = (await db.pool.query("select count(*)::int n from tasks")).rows[0].n;
    expect(count).toBe(1);
  });

  it("cancels a PENDING task at once, stores the revocation, and answers already_finished after", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    await call(client, client.createTask, { job: job("c-1"), idempotencyKey: "", requestHash: "" });
    const res = await call(client, client.cancelTask, { tenant: "acme", taskId: "c-1", reason: "test" });
    expect(res.alreadyFinished).toBe(false);
    expect(res.task?.state).toBe(TaskState.REVOKED);
    const kv = await nats.nc.jetstream().views.kv(nats.topo.bucket("revocations"));
    expect(await kv.get("c-1")).toBeTruthy();
    const again = await call(client, client.cancelTask, { tenant: "acme", taskId: "c-1", reason: "test" });
    expect(again.alreadyFinished).toBe(true);
  });

  it("streams a task with WatchTask: current row first, then changes, ending at terminal", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const j = job("w-1");
    await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    const { seen, ended } = watch("acme", "w-1", false);
    await waitFor(() => seen.length >= 1);
    const js = nats.nc.jetstream();
    await publishEvent(js, nats.topo, event(j, TaskState.STARTED, 1, 1));
    await waitFor(() => seen.some((t) => t.state === TaskState.STARTED));
    await publishEvent(js, nats.topo, event(j, TaskState.SUCCESS, 1, 2));
    await ended;
    expect(seen[0].state).toBe(TaskState.PENDING);
    expect(seen[seen.length - 1].state).toBe(TaskState.SUCCESS);
  });

  it("WatchTask with history never goes back: a row not yet projected past the replayed events is not sent after them", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const j = job("w-lag");
    await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    const js = nats.nc.jetstream();
    await publishEvent(js, nats.topo, event(j, TaskState.STARTED, 1, 1));
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "w-lag" })).state === TaskState.STARTED);
    // Hold the row: PROGRESS 2..5 are stored in the stream but not projected, so Postgres stays at seq 1.
    const lock = await db.pool.connect();
    try {
      await lock.query("begin");
      await lock.query("select 1 from tasks where task_id = 'w-lag' for update");
      const p = (n: number) => ({ percent: n * 10, message: `step ${n}`, currentNode: 0, totalNodes: 0, nodeType: "", done: n, total: 10 });
      for (let n = 2; n <= 5; n++) await publishEvent(js, nats.topo, event(j, TaskState.PROGRESS, 1, n, { progress: p(n) }));
      const { seen, ended } = watch("acme", "w-lag", true);
      await waitFor(() => seen.some((t) => t.seq === 5), { what: "the replay to reach seq 5" });
      await lock.query("commit");
      await publishEvent(js, nats.topo, event(j, TaskState.SUCCESS, 1, 6, { resultJson: Buffer.from("[1]") }));
      await ended;
      // Before: 1, 2, 3, 4, 5, then the projected row at seq 1 again ("step 5" → STARTED).
      expect(seen.map((t) => t.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(seen.map((t) => t.generation)).toEqual([0, 0, 0, 0, 0, 0]);
    } finally {
      await lock.query("rollback").catch(() => undefined);
      lock.release();
    }
  });

  it("expires results after the TTL: 410 Gone before and after the purge, 404 for another tenant; a tenant's purge is its own", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const clock = new ManualClock(Date.now());
    await boot({ RESULT_TTL_MS: "60000", PURGE_EVERY_MS: "3600000" }, clock);
    const j = job("exp-1");
    const theirs = job("exp-2", "globex");
    for (const t of [j, theirs]) {
      await call(client, client.createTask, { job: t, idempotencyKey: "", requestHash: "" });
      await publishEvent(nats.nc.jetstream(), nats.topo, event(t, TaskState.SUCCESS, 1, 1, { atMs: clock.now(), resultJson: Buffer.from("1") }));
    }
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "exp-1" })).state === TaskState.SUCCESS);
    await waitFor(async () => (await call(client, client.getTask, { tenant: "globex", taskId: "exp-2" })).state === TaskState.SUCCESS);
    clock.advance(59_000);
    expect((await call(client, client.getTask, { tenant: "acme", taskId: "exp-1" })).state).toBe(TaskState.SUCCESS);
    clock.advance(2_000);
    await expect(call(client, client.getTask, { tenant: "acme", taskId: "exp-1" })).rejects.toMatchObject({ code: "GONE" });
    // acme's scheduled cleanup leaves globex's expired row alone; the unscoped sweep takes it.
    expect((await call(client, client.purgeExpired, { limit: 100, tenant: "acme" })).purged).toBe(1);
    expect((await db.pool.query("select tenant from tasks")).rows).toEqual([{ tenant: "globex" }]);
    expect((await call(client, client.purgeExpired, { limit: 100, tenant: "" })).purged).toBe(1);
    expect((await db.pool.query("select count(*)::int n from tasks")).rows[0].n).toBe(0);
    await expect(call(client, client.getTask, { tenant: "acme", taskId: "exp-1" })).rejects.toMatchObject({ code: "GONE" });
    await expect(call(client, client.getTask, { tenant: "other", taskId: "exp-1" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("sweeps expired results every PURGE_EVERY_MS, the first one a period after start, not at the first pass", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const clock = new ManualClock(Date.now());
    await boot({ RECONCILE_EVERY_MS: "20", PURGE_EVERY_MS: "3600000" }, clock);
    await db.pool.query(
      "insert into tasks (task_id, tenant, kind, state, created_at, expires_at) values ('old', 'acme', 'predict', 'SUCCESS', now() - interval '2 days', now() - interval '1 day')",
    );
    const count = async () => (await db.pool.query("select count(*)::int n from tasks")).rows[0].n as number;
    // Passes run on their own timer; none of them sweeps before the period is up.
    await waitFor(async () => svc!.reconciler.passes >= 3, { what: "three reconciler passes" });
    expect(await count()).toBe(1);
    clock.advance(3_600_000);
    await waitFor(async () => (await count()) === 0, { what: "the periodic sweep" });
  });

  it("projects a worker's TaskEventBatch like its events one by one, and a late watcher still sees the batched STARTED", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const a = job("batch-a");
    const b = job("batch-b");
    for (const j of [a, b]) await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    const startedAt = Date.now() - 5;
    // As a worker sends two predictions that ended in the same turn: STARTED and outcome of each, one message.
    const encoded = [
      event(a, TaskState.STARTED, 1, 1, { atMs: startedAt }),
      event(a, TaskState.SUCCESS, 1, 2, { resultJson: Buffer.from('{"y":1}') }),
      event(b, TaskState.STARTED, 1, 1, { atMs: startedAt }),
      event(b, TaskState.FAILURE, 1, 2, { error: { type: "ValueError", message: "bad row", code: "VALIDATION", retryable: false } }),
    ].map((e) => encodeEvent(e).data);
    await publishEventBatch(nats.nc.jetstream(), nats.topo, encoded, "batch-1");
    // The same batch again (a publish retried after a lost PubAck) is dropped by its id.
    const again = await publishEventBatch(nats.nc.jetstream(), nats.topo, encoded, "batch-1");
    expect(again.duplicate).toBe(true);
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "batch-b" })).state === TaskState.FAILURE);
    const ta = await call(client, client.getTask, { tenant: "acme", taskId: "batch-a" });
    expect(ta).toMatchObject({ state: TaskState.SUCCESS, attempts: 1, startedAtMs: startedAt });
    expect(JSON.parse(Buffer.from(ta.resultJson).toString())).toEqual({ y: 1 });
    const tb = await call(client, client.getTask, { tenant: "acme", taskId: "batch-b" });
    expect(tb.error).toMatchObject({ type: "ValueError", message: "bad row" });
    // Nothing of either task is on its own subject, yet the history still starts at STARTED.
    const { seen, ended } = watch("acme", "batch-a", true);
    await ended;
    expect(seen.map((t) => t.state)).toEqual([TaskState.STARTED, TaskState.SUCCESS]);
    expect(seen[0].startedAtMs).toBe(startedAt);
  });

  it("projects a batch over submitted rows without reading them, and every other task from its real row", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const fresh = job("mix-fresh");
    const revoked = job("mix-revoked");
    const running = job("mix-running");
    for (const j of [fresh, revoked, running]) await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    // Cancelled while queued: REVOKED at once, though a worker may already hold its job.
    await call(client, client.cancelTask, { tenant: "acme", taskId: "mix-revoked", reason: "test" });
    // Started in an earlier batch, by another worker.
    const startedAt = Date.now() - 50;
    await publishEvent(nats.nc.jetstream(), nats.topo, event(running, TaskState.STARTED, 1, 1, { atMs: startedAt, workerId: "w-early" }));
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "mix-running" })).state === TaskState.STARTED);

    const events = [
      event(fresh, TaskState.STARTED, 1, 1),
      event(fresh, TaskState.SUCCESS, 1, 2, { resultJson: Buffer.from('{"y":1}') }),
      event(revoked, TaskState.STARTED, 1, 1),
      event(revoked, TaskState.SUCCESS, 1, 2, { resultJson: Buffer.from('{"y":2}') }),
      event(running, TaskState.SUCCESS, 1, 2, { resultJson: Buffer.from('{"y":3}') }),
    ];
    await publishEventBatch(nats.nc.jetstream(), nats.topo, events.map((e) => encodeEvent(e).data), "mix-batch");
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "mix-running" })).state === TaskState.SUCCESS);
    await svc!.projector.drained();

    expect(await call(client, client.getTask, { tenant: "acme", taskId: "mix-fresh" })).toMatchObject({ state: TaskState.SUCCESS, attempts: 1 });
    // A terminal row stays terminal: the late run does not turn the revoked task into a success.
    const r = await call(client, client.getTask, { tenant: "acme", taskId: "mix-revoked" });
    expect(r.state).toBe(TaskState.REVOKED);
    expect(r.resultJson.length).toBe(0);
    // The outcome merges into the attempt the earlier batch recorded (since when it ran).
    const t = await call(client, client.getTask, { tenant: "acme", taskId: "mix-running" });
    expect(t).toMatchObject({ state: TaskState.SUCCESS, startedAtMs: startedAt });
    expect(t.history).toEqual([expect.objectContaining({ attempt: 1, startedAtMs: startedAt, outcome: TaskState.SUCCESS })]);
  });

  it("projects a batch that spans a manual retry from the retried row, not from an empty one", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const j = job("gen-mix");
    await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    await call(client, client.cancelTask, { tenant: "acme", taskId: "gen-mix", reason: "test" });
    // Retried after it was revoked unstarted: generation 1, PENDING, no attempt yet.
    expect((await call(client, client.retryTask, { tenant: "acme", taskId: "gen-mix" })).task).toMatchObject({ state: TaskState.PENDING, attempts: 0 });
    const revokedError = { type: "TaskRevoked", message: "revoked before it started", code: "REVOKED", retryable: false };
    const events = [
      // The first generation's worker reports the revocation late, in the same batch as the retry's run.
      event(j, TaskState.REVOKED, 1, 1, { error: revokedError }),
      event(j, TaskState.STARTED, 1, 1, { generation: 1 }),
      event(j, TaskState.SUCCESS, 1, 2, { generation: 1, resultJson: Buffer.from("[1]") }),
    ];
    await publishEventBatch(nats.nc.jetstream(), nats.topo, events.map((e) => encodeEvent(e).data), "gen-batch");
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "gen-mix" })).state === TaskState.SUCCESS);
    const t = await call(client, client.getTask, { tenant: "acme", taskId: "gen-mix" });
    // The stale generation's event is ignored: the one attempt is the retry's, without the revocation's error.
    expect(t.history).toEqual([expect.objectContaining({ attempt: 1, outcome: TaskState.SUCCESS, error: undefined })]);
  });

  it("caches a finished row once it is read, not when it is projected", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const [read, unread] = [job("cache-read"), job("cache-unread")];
    for (const j of [read, unread]) await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    const events = [read, unread].flatMap((j) => [event(j, TaskState.STARTED, 1, 1), event(j, TaskState.SUCCESS, 1, 2)]);
    await publishEventBatch(nats.nc.jetstream(), nats.topo, events.map((e) => encodeEvent(e).data), "cache-batch");
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "cache-read" })).state === TaskState.SUCCESS);
    await svc!.projector.drained();
    // With the rows gone from Postgres, only a cached row can still answer.
    await db.pool.query("delete from tasks where task_id in ('cache-read', 'cache-unread')");
    expect((await call(client, client.getTask, { tenant: "acme", taskId: "cache-read" })).state).toBe(TaskState.SUCCESS);
    // Projected rows are not held: gateways keep finished tasks from the notices, and 20,000 held rows cost this service's GC a fifth of its CPU.
    await expect(call(client, client.getTask, { tenant: "acme", taskId: "cache-unread" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("republishes the job of a task left PENDING with no event (its publish was lost), once per deadline", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const clock = new ManualClock(Date.now());
    // The timer never fires during the test: passes are run by hand against the injected clock.
    await boot({ RECONCILE_AFTER_MS: "30000", RECONCILE_EVERY_MS: "3600000" }, clock);
    const j = job("lost-1");
    await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    // The gateway's publish never reached JetStream.
    const jsm = await nats.nc.jetstreamManager();
    expect((await jsm.streams.info(nats.topo.jobsStream)).state.messages).toBe(0);
    clock.advance(29_000);
    expect(await svc!.reconciler.republishStale()).toBe(0);
    clock.advance(2_000);
    expect(await svc!.reconciler.republishStale()).toBe(1);
    const m = await jsm.streams.getMessage(nats.topo.jobsStream, { last_by_subj: nats.topo.jobSubject("train", "default") });
    expect(m.header.get("Nats-Msg-Id")).toBe("lost-1");
    expect(m.header.get("Millrace-Republish")).toBe("1");
    expect(Job.decode(m.data)).toMatchObject({ taskId: "lost-1", tenant: "acme", kind: "train" });
    // Not again until another deadline passes without an event.
    expect(await svc!.reconciler.republishStale()).toBe(0);
    await publishEvent(nats.nc.jetstream(), nats.topo, event(j, TaskState.STARTED, 1, 1));
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "lost-1" })).state === TaskState.STARTED);
    clock.advance(60_000);
    expect(await svc!.reconciler.republishStale()).toBe(0);
  });

  it("ends a PENDING task past its start_by EXPIRED instead of republishing it, so it does not wait for a worker to refuse it", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const clock = new ManualClock(Date.now());
    await boot({ RECONCILE_AFTER_MS: "30000", RECONCILE_EVERY_MS: "3600000" }, clock);
    const j = { ...job("late-pending"), createdAtMs: clock.now(), startByMs: clock.now() + 10_000 };
    await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    clock.advance(31_000);
    expect(await svc!.reconciler.republishStale()).toBe(1);
    expect([svc!.reconciler.expired, svc!.reconciler.republished]).toEqual([1, 0]);
    const jsm = await nats.nc.jetstreamManager();
    expect((await jsm.streams.info(nats.topo.jobsStream)).state.messages).toBe(0);
    const t = await waitFor(async () => {
      const got = await call(client, client.getTask, { tenant: "acme", taskId: "late-pending" });
      return got.state === TaskState.REVOKED ? got : undefined;
    });
    expect(t.error).toMatchObject({ type: "TaskExpired", code: "EXPIRED" });
    expect(t.startedAtMs).toBe(0);
  });

  it("skips a reconciler pass while stored events are not yet projected, so a task that started is not copied", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const clock = new ManualClock(Date.now());
    await boot({ RECONCILE_AFTER_MS: "30000", RECONCILE_EVERY_MS: "3600000" }, clock);
    const j = job("behind-1");
    await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    clock.advance(31_000);
    // A status restart with a backlog: the worker's STARTED is stored, the projector has not committed it.
    await svc!.projector.stop();
    await publishEvent(nats.nc.jetstream(), nats.topo, event(j, TaskState.STARTED, 1, 1));
    expect(await svc!.reconciler.republishStale(200)).toBe(0);
    expect(await svc!.reconciler.recoverLost(200)).toBe(0);
    expect(svc!.reconciler.skippedBehind).toBe(2);
    const jsm = await nats.nc.jetstreamManager();
    expect((await jsm.streams.info(nats.topo.jobsStream)).state.messages).toBe(0);
  });

  it("republishes, as its next attempt, a STARTED task that no live worker holds, once per deadline", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    const clock = new ManualClock(Date.now());
    await boot({ RECONCILE_AFTER_MS: "30000", RECONCILE_LOST_AFTER_MS: "300000", RECONCILE_EVERY_MS: "3600000" }, clock);
    const js = nats.nc.jetstream();
    const lost = job("lost-run-1");
    const held = job("held-run-1");
    const parent: Job = { ...job("parent-run-1"), kind: "train_all_products", payload: { $case: "trainAllProducts", value: TrainAllProductsJob.fromPartial({}) } };
    for (const j of [lost, held, parent]) {
      await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
      await publishEvent(js, nats.topo, event(j, TaskState.STARTED, 1, 1));
    }
    await waitFor(async () => {
      const states = await Promise.all([lost, held, parent].map((j) => call(client, client.getTask, { tenant: "acme", taskId: j.taskId })));
      return states.every((t) => t.state === TaskState.STARTED);
    });
    // A live worker's heartbeat lists held-run-1; nobody lists the others.
    const workers = await js.views.kv(nats.topo.bucket("workers"));
    await workers.put("trainer-1", WorkerHeartbeat.encode(WorkerHeartbeat.fromPartial({ workerId: "trainer-1", inFlightTasks: [{ taskId: "held-run-1", tenant: "acme" }] })).finish());
    clock.advance(299_000);
    expect(await svc!.reconciler.recoverLost()).toBe(0);
    clock.advance(2_000);
    expect(await svc!.reconciler.recoverLost()).toBe(1);
    const jsm = await nats.nc.jetstreamManager();
    const m = await jsm.streams.getMessage(nats.topo.jobsStream, { last_by_subj: nats.topo.jobSubject("train", "default") });
    expect(m.header.get("Millrace-Republish")).toBe("lost");
    expect(Job.decode(m.data)).toMatchObject({ taskId: "lost-run-1", attemptBase: 1 });
    expect((await jsm.streams.info(nats.topo.jobsStream)).state.messages).toBe(1);
    // Not again until another deadline passes with no event.
    expect(await svc!.reconciler.recoverLost()).toBe(0);
  });

  it("WatchTask sends a late subscriber the task's history (every stored transition) before the end", async () => {
    nats = await natsFixture();
    db = await dbFixture();
    await boot();
    const j = job("hist-1");
    await call(client, client.createTask, { job: j, idempotencyKey: "", requestHash: "" });
    const js = nats.nc.jetstream();
    const p = (percent: number) => ({ percent, message: `at ${percent}`, currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 });
    await publishEvent(js, nats.topo, event(j, TaskState.STARTED, 1, 1));
    await publishEvent(js, nats.topo, event(j, TaskState.PROGRESS, 1, 2, { progress: p(30) }));
    await publishEvent(js, nats.topo, event(j, TaskState.PROGRESS, 1, 3, { progress: p(70) }));
    await publishEvent(js, nats.topo, event(j, TaskState.SUCCESS, 1, 4));
    await waitFor(async () => (await call(client, client.getTask, { tenant: "acme", taskId: "hist-1" })).state === TaskState.SUCCESS);
    const { seen, ended } = watch("acme", "hist-1", true);
    await ended;
    expect(seen.map((t) => [t.state, t.progress?.percent ?? 0])).toEqual([
      [TaskState.STARTED, 0],
      [TaskState.PROGRESS, 30],
      [TaskState.PROGRESS, 70],
      [TaskState.SUCCESS, 100],
    ]);
    // Another tenant learns nothing, not even the history.
    await expect(
      new Promise((resolve, reject) => {
        const stream = client.watchTask({ tenant: "other", taskId: "hist-1", history: true });
        stream.on("data", resolve);
        stream.on("error", reject);
      }),
    ).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });
});
