import { afterEach, describe, expect, it } from "vitest";
import { CancelNotice, Job, Task, TaskEvent, TaskState, WorkerHeartbeat } from "@millrace/contracts";
import { createLogger, decodeEvents, ManualClock, publishJob, TransientError, ValidationError, type Clock } from "@millrace/runtime";
import { natsFixture, waitFor, type NatsFixture } from "@millrace/testkit";
import { parseTimeLimits, Worker, type JobHandler } from "@millrace/worker";
import { predictJob as job } from "./jobs";

const logger = createLogger("worker-test", "silent");

/** Collects every task event as JetStream stores it (core subscribers see stream publishes too). */
const collected = new Map<string, TaskEvent[]>();
function collect(fx: NatsFixture): void {
  fx.nc.subscribe(fx.topo.eventsWildcard, {
    callback: (_e, m) => {
      // A worker's batch (events._batch.v1) carries several tasks' events.
      for (const ev of decodeEvents(fx.topo, m.subject, m.data)) collected.set(ev.taskId, [...(collected.get(ev.taskId) ?? []), ev]);
    },
  });
}
async function eventsOf(_fx: NatsFixture, taskId: string): Promise<TaskEvent[]> {
  return collected.get(taskId) ?? [];
}

async function states(fx: NatsFixture, taskId: string): Promise<TaskState[]> {
  return (await eventsOf(fx, taskId)).map((e) => e.state);
}

describe("worker (real NATS)", () => {
  let fx: NatsFixture;
  let worker: Worker | undefined;

  async function startWorker(handler: JobHandler, extra: { cancelGraceMs?: number; heartbeatEveryMs?: number; clock?: Clock } = {}) {
    collect(fx);
    await fx.nc.flush();
    worker = new Worker({ service: "test", nc: fx.nc, topo: fx.topo, queues: ["default"], handlers: { predict: handler }, concurrency: 4, ackWaitMs: 2_000, logger, ...extra });
    await worker.start();
  }

  afterEach(async () => {
    await worker?.drain(1_000);
    worker = undefined;
    await fx?.cleanup();
  });

  it("runs a job, emits STARTED then SUCCESS, and acks it only after", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    await startWorker(async () => ({ answer: 42 }));
    await publishJob(fx.nc.jetstream(), fx.topo, job("ok-1"));
    await waitFor(async () => (await states(fx, "ok-1")).includes(TaskState.SUCCESS));
    const evs = await eventsOf(fx, "ok-1");
    expect(evs.map((e) => e.state)).toEqual([TaskState.STARTED, TaskState.SUCCESS]);
    expect(JSON.parse(Buffer.from(evs[1].resultJson).toString())).toEqual({ answer: 42 });
    const jsm = await fx.nc.jetstreamManager();
    await waitFor(async () => (await jsm.streams.info(fx.topo.jobsStream)).state.messages === 0, { what: "job acked" });
  });

  it("retries a transient error with backoff, showing RETRY, then succeeds on attempt 2", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    let calls = 0;
    await startWorker(async () => {
      calls += 1;
      if (calls === 1) throw new TransientError("database hiccup");
      return "fine";
    });
    await publishJob(fx.nc.jetstream(), fx.topo, job("retry-1"));
    await waitFor(async () => (await states(fx, "retry-1")).includes(TaskState.SUCCESS));
    const evs = await eventsOf(fx, "retry-1");
    expect(evs.map((e) => [e.state, e.attempt])).toEqual([
      [TaskState.STARTED, 1],
      [TaskState.RETRY, 1],
      [TaskState.STARTED, 2],
      [TaskState.SUCCESS, 2],
    ]);
    expect(evs[1].error?.message).toBe("database hiccup");
    expect(evs[1].nextAttemptAtMs).toBeGreaterThan(evs[1].atMs);
  });

  it("progress never goes back within an attempt, and starts again from 0 on the next attempt", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    let calls = 0;
    await startWorker(async (ctx) => {
      calls += 1;
      if (calls === 1) {
        await ctx.progress({ percent: 40, message: "first try" });
        throw new TransientError("database hiccup");
      }
      await ctx.progress({ percent: 1, message: "loading dataset" });
      await ctx.progress({ percent: 0, message: "loaded 300 rows" });
      await ctx.progress({ percent: 30, message: "fitting" });
      await ctx.progress({ percent: 10, message: "a late, lower report" });
      return "fine";
    });
    await publishJob(fx.nc.jetstream(), fx.topo, job("progress-1"));
    await waitFor(async () => (await states(fx, "progress-1")).includes(TaskState.SUCCESS));
    const progress = (await eventsOf(fx, "progress-1")).filter((e) => e.state === TaskState.PROGRESS);
    expect(progress.map((e) => [e.attempt, e.progress?.percent, e.progress?.message])).toEqual([
      [1, 40, "first try"],
      [2, 1, "loading dataset"],
      [2, 1, "loaded 300 rows"],
      [2, 30, "fitting"],
      [2, 30, "a late, lower report"],
    ]);
  });

  it("fails a validation error at once, without retrying", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    let calls = 0;
    await startWorker(async () => {
      calls += 1;
      throw new ValidationError("column x is missing", { field: "x" });
    });
    await publishJob(fx.nc.jetstream(), fx.topo, job("bad-1"));
    await waitFor(async () => (await states(fx, "bad-1")).includes(TaskState.FAILURE));
    const evs = await eventsOf(fx, "bad-1");
    expect(evs.at(-1)?.error).toMatchObject({ type: "ValidationError", retryable: false });
    expect(calls).toBe(1);
  });

  it("dead-letters a job that keeps failing after max attempts", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    await startWorker(async () => {
      throw new TransientError("always down");
    });
    await publishJob(fx.nc.jetstream(), fx.topo, job("poison-1", { retry: { maxAttempts: 2, initialMs: 10, factor: 1, maxMs: 10, jitter: 0 } }));
    await waitFor(async () => (await states(fx, "poison-1")).includes(TaskState.FAILURE));
    const jsm = await fx.nc.jetstreamManager();
    const dlq = await jsm.streams.info(fx.topo.deadLetterStream);
    expect(dlq.state.messages).toBe(1);
    const raw = await jsm.streams.getMessage(fx.topo.deadLetterStream, { last_by_subj: fx.topo.deadLetterSubject("predict") });
    expect(Job.decode(raw.data).taskId).toBe("poison-1");
    const evs = await eventsOf(fx, "poison-1");
    expect(evs.filter((e) => e.state === TaskState.STARTED)).toHaveLength(2);
  });

  it("a job still running after a second is in the worker's heartbeat then, and out of it within a second of finishing, not at the next regular one", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await startWorker(async () => {
      await gate;
      return { ok: true };
    }, { heartbeatEveryMs: 120_000 });
    const kv = await fx.nc.jetstream().views.kv(fx.topo.bucket("workers"));
    const inFlight = async () => {
      const e = await kv.get(worker!.heartbeatKey);
      return e ? WorkerHeartbeat.decode(e.value).inFlightTasks.map((t) => t.taskId) : [];
    };
    expect(await inFlight()).toEqual([]);
    const t0 = Date.now();
    await publishJob(fx.nc.jetstream(), fx.topo, job("hb-1"));
    await waitFor(async () => (await inFlight()).includes("hb-1"), { timeoutMs: 5_000, what: "hb-1 in a heartbeat" });
    expect(Date.now() - t0).toBeLessThan(3_000);
    release();
    await waitFor(async () => (await states(fx, "hb-1")).includes(TaskState.SUCCESS));
    const t1 = Date.now();
    await waitFor(async () => !(await inFlight()).includes("hb-1"), { timeoutMs: 5_000, what: "hb-1 out of the heartbeat" });
    expect(Date.now() - t1).toBeLessThan(3_000);
  });

  it("stops a running task within 1 s of a cancel notice and ends REVOKED", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    let started = false;
    await startWorker(
      (ctx) =>
        new Promise((_, reject) => {
          started = true;
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
        }),
    );
    await publishJob(fx.nc.jetstream(), fx.topo, job("cancel-1"));
    await waitFor(() => started);
    const t0 = Date.now();
    fx.nc.publish(fx.topo.cancelSubject("cancel-1"), CancelNotice.encode({ taskId: "cancel-1", tenant: "acme", atMs: t0, reason: "user" }).finish());
    await waitFor(async () => (await states(fx, "cancel-1")).includes(TaskState.REVOKED));
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it("a cancel before the handler reads ctx.signal still gives it an aborted signal, and ends REVOKED", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    collect(fx);
    await fx.nc.flush();
    const lines: Array<Record<string, unknown>> = [];
    const captured = createLogger("worker-test", "info", { write: (s: string) => void lines.push(JSON.parse(s)) });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    let sawAborted: boolean | undefined;
    worker = new Worker({
      service: "test",
      nc: fx.nc,
      topo: fx.topo,
      queues: ["default"],
      concurrency: 2,
      ackWaitMs: 2_000,
      logger: captured,
      handlers: {
        predict: async (ctx) => {
          started = true;
          ctx.logger.info("handler ran");
          await gate;
          sawAborted = ctx.signal.aborted;
          return "finished anyway";
        },
      },
    });
    await worker.start();
    await publishJob(fx.nc.jetstream(), fx.topo, job("late-signal-1"));
    await waitFor(() => started);
    fx.nc.publish(fx.topo.cancelSubject("late-signal-1"), CancelNotice.encode({ taskId: "late-signal-1", tenant: "acme", atMs: Date.now(), reason: "user" }).finish());
    await waitFor(() => lines.some((l) => l.msg === "cancelling running task"), { what: "cancel seen" });
    release();
    await waitFor(async () => (await states(fx, "late-signal-1")).includes(TaskState.REVOKED));
    expect(sawAborted).toBe(true);
    expect(await states(fx, "late-signal-1")).toEqual([TaskState.STARTED, TaskState.REVOKED]);
    // The handler's logger (made on first use) still carries the job's bindings.
    expect(lines.find((l) => l.msg === "handler ran")).toMatchObject({ task_id: "late-signal-1", kind: "predict", attempt: 1 });
    expect(lines.find((l) => l.msg === "task revoked while running")).toMatchObject({ task_id: "late-signal-1", kind: "predict", attempt: 1 });
  });

  it("keeps renewing the lease of jobs that outlast the ack wait (no redelivery)", async () => {
    fx = await natsFixture({ ackWaitMs: 1_000 });
    collect(fx);
    await fx.nc.flush();
    worker = new Worker({
      service: "test",
      nc: fx.nc,
      topo: fx.topo,
      queues: ["default"],
      concurrency: 4,
      ackWaitMs: 1_000,
      logger,
      handlers: { predict: () => new Promise((r) => setTimeout(() => r("slow"), 2_300)) },
    });
    await worker.start();
    // Started at different times, so their renewals fall due at different times.
    await publishJob(fx.nc.jetstream(), fx.topo, job("lease-1"));
    await new Promise((r) => setTimeout(r, 450));
    await publishJob(fx.nc.jetstream(), fx.topo, job("lease-2"));
    for (const id of ["lease-1", "lease-2"]) await waitFor(async () => (await states(fx, id)).includes(TaskState.SUCCESS), { timeoutMs: 10_000, what: id });
    for (const id of ["lease-1", "lease-2"]) expect((await eventsOf(fx, id)).map((e) => [e.state, e.attempt])).toEqual([[TaskState.STARTED, 1], [TaskState.SUCCESS, 1]]);
  });

  it("never starts a task revoked while queued", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    const kv = await fx.nc.jetstream().views.kv(fx.topo.bucket("revocations"));
    await kv.put("queued-1", CancelNotice.encode({ taskId: "queued-1", tenant: "acme", atMs: 0, reason: "" }).finish());
    let calls = 0;
    await startWorker(async () => {
      calls += 1;
    });
    await publishJob(fx.nc.jetstream(), fx.topo, job("queued-1"));
    await waitFor(async () => (await states(fx, "queued-1")).includes(TaskState.REVOKED));
    expect(calls).toBe(0);
  });

  it("does not run a job received after its start_by: the task ends REVOKED with code EXPIRED and the job is acked; one in time runs", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    const clock = new ManualClock(Date.now());
    const ran: string[] = [];
    await startWorker(async (ctx) => {
      ran.push(ctx.job.taskId);
      return "ran";
    }, { clock });
    const startBy = clock.now() - 1_500;
    await publishJob(fx.nc.jetstream(), fx.topo, job("late-1", { startByMs: startBy }));
    await publishJob(fx.nc.jetstream(), fx.topo, job("on-time-1", { startByMs: clock.now() + 60_000 }));
    await waitFor(async () => (await states(fx, "late-1")).includes(TaskState.REVOKED) && (await states(fx, "on-time-1")).includes(TaskState.SUCCESS));
    const evs = await eventsOf(fx, "late-1");
    // No STARTED: it never began.
    expect(evs.map((e) => e.state)).toEqual([TaskState.REVOKED]);
    expect(evs[0].error).toMatchObject({ type: "TaskExpired", code: "EXPIRED", retryable: false });
    expect(evs[0].error?.message).toBe(`not started by ${new Date(startBy).toISOString()} (start_within_ms); received 1500 ms after`);
    expect(ran).toEqual(["on-time-1"]);
    const jsm = await fx.nc.jetstreamManager();
    await waitFor(async () => (await jsm.streams.info(fx.topo.jobsStream)).state.messages === 0, { what: "both jobs acked" });
  });

  it("a retry due after start_by still runs: the deadline is for the task's first start", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    const clock = new ManualClock(Date.now());
    let calls = 0;
    await startWorker(async () => {
      calls += 1;
      if (calls === 1) {
        clock.advance(10 * 60_000); // the first attempt outlasts the deadline
        throw new TransientError("flaky");
      }
      return "fine";
    }, { clock });
    await publishJob(fx.nc.jetstream(), fx.topo, job("late-retry-1", { startByMs: clock.now() + 1_000 }));
    await waitFor(async () => (await states(fx, "late-retry-1")).includes(TaskState.SUCCESS));
    expect(await states(fx, "late-retry-1")).toEqual([TaskState.STARTED, TaskState.RETRY, TaskState.STARTED, TaskState.SUCCESS]);
  });

  it("soft time limit aborts the work and fails with TimeLimitExceeded", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    let cleanedUp = false;
    await startWorker(
      (ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener("abort", () => {
            cleanedUp = true;
            reject(ctx.signal.reason);
          });
        }),
    );
    await publishJob(fx.nc.jetstream(), fx.topo, job("soft-1", { timeLimits: { softMs: 100, hardMs: 0 } }));
    await waitFor(async () => (await states(fx, "soft-1")).includes(TaskState.FAILURE));
    const evs = await eventsOf(fx, "soft-1");
    expect(evs.at(-1)?.error?.type).toBe("TimeLimitExceeded");
    expect(cleanedUp).toBe(true);
  });

  it("hard time limit forces the work to stop and keeps the worker serving", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    let hardStopped = 0;
    let n = 0;
    await startWorker(async (ctx) => {
      n += 1;
      if (n > 1) return "second job ran";
      ctx.onHardStop(() => (hardStopped += 1));
      return new Promise(() => undefined); // ignores every signal
    });
    await publishJob(fx.nc.jetstream(), fx.topo, job("hard-1", { timeLimits: { softMs: 0, hardMs: 150 } }));
    await waitFor(async () => (await states(fx, "hard-1")).includes(TaskState.FAILURE));
    expect((await eventsOf(fx, "hard-1")).at(-1)?.error?.message).toMatch(/hard time limit/);
    expect(hardStopped).toBe(1);
    await publishJob(fx.nc.jetstream(), fx.topo, job("hard-2"));
    await waitFor(async () => (await states(fx, "hard-2")).includes(TaskState.SUCCESS));
  });

  it("serves many consumers with few slots and picks every job up promptly (no starvation)", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    collect(fx);
    await fx.nc.flush();
    const h = async () => "ok";
    worker = new Worker({ service: "test", nc: fx.nc, topo: fx.topo, queues: ["default", "high", "batch"], handlers: { train: h, pipeline: h, forecast: h, train_product: h, maintenance: h }, concurrency: 2, ackWaitMs: 2_000, logger });
    await worker.start();
    for (let i = 0; i < 6; i++) {
      const id = `slots-${i}`;
      await publishJob(fx.nc.jetstream(), fx.topo, job(id, { kind: i % 2 ? "train" : "maintenance", queue: ["default", "high", "batch"][i % 3] }));
      // Well under the 1 s a fetch would hold a slot if consumers were polled in turn.
      await waitFor(async () => (await states(fx, id)).includes(TaskState.SUCCESS), { timeoutMs: 5_000, what: id });
    }
  });

  it("stores the events of short jobs that end together in a few batch messages, not two messages per job", async () => {
    fx = await natsFixture({ ackWaitMs: 5_000 });
    collect(fx);
    await fx.nc.flush();
    const ids = Array.from({ length: 30 }, (_, i) => `short-${i}`);
    // Queued before the worker starts, so its first fetch takes them together.
    await Promise.all(ids.map((id) => publishJob(fx.nc.jetstream(), fx.topo, job(id))));
    worker = new Worker({ service: "test", nc: fx.nc, topo: fx.topo, queues: ["default"], concurrency: 64, ackWaitMs: 5_000, logger, handlers: { predict: async () => "ok" } });
    await worker.start();
    await waitFor(async () => {
      for (const id of ids) if (!(await states(fx, id)).includes(TaskState.SUCCESS)) return false;
      return true;
    });
    for (const id of ids) expect(await states(fx, id)).toEqual([TaskState.STARTED, TaskState.SUCCESS]);
    const jsm = await fx.nc.jetstreamManager();
    const messages = (await jsm.streams.info(fx.topo.eventsStream)).state.messages;
    expect(messages).toBeLessThan(ids.length); // one per job would be 30, two per job 60
    // Every job was acked after its batch was stored: nothing is left to redeliver.
    await waitFor(async () => (await jsm.consumers.info(fx.topo.jobsStream, fx.topo.jobConsumer("predict", "default"))).num_ack_pending === 0);
  });

  it("stream mode (short jobs) runs every job and never exceeds its concurrency", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    collect(fx);
    await fx.nc.flush();
    let running = 0;
    let peak = 0;
    worker = new Worker({
      service: "test",
      nc: fx.nc,
      topo: fx.topo,
      queues: ["default", "high"],
      mode: "stream",
      concurrency: 3,
      ackWaitMs: 2_000,
      logger,
      handlers: {
        predict: async () => {
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running -= 1;
          return "ok";
        },
      },
    });
    await worker.start();
    const ids = Array.from({ length: 40 }, (_, i) => `stream-${i}`);
    await Promise.all(ids.map((id, i) => publishJob(fx.nc.jetstream(), fx.topo, job(id, { queue: i % 2 ? "high" : "default" }))));
    await waitFor(async () => {
      for (const id of ids) if (!(await states(fx, id)).includes(TaskState.SUCCESS)) return false;
      return true;
    });
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
  });

  it("applies a kind's default soft time limit when the request sets none", async () => {
    fx = await natsFixture({ ackWaitMs: 2_000 });
    collect(fx);
    await fx.nc.flush();
    worker = new Worker({
      service: "test",
      nc: fx.nc,
      topo: fx.topo,
      queues: ["default"],
      concurrency: 2,
      ackWaitMs: 2_000,
      logger,
      policies: parseTimeLimitsAsPolicies("predict=120:0"),
      handlers: { predict: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))) },
    });
    await worker.start();
    await publishJob(fx.nc.jetstream(), fx.topo, job("kind-soft-1"));
    await waitFor(async () => (await states(fx, "kind-soft-1")).includes(TaskState.FAILURE));
    expect((await eventsOf(fx, "kind-soft-1")).at(-1)?.error?.type).toBe("TimeLimitExceeded");
  });

  it("skips a reconciler's republished copy of a task that has started elsewhere, and runs one whose task is still PENDING", async () => {
    fx = await natsFixture({ ackWaitMs: 5_000 });
    collect(fx);
    await fx.nc.flush();
    // The status service as the worker sees it (our own gRPC boundary): a state per task.
    const stateOf = new Map([
      ["copy-running", TaskState.STARTED],
      ["copy-lost", TaskState.PENDING],
    ]);
    const status = {
      getTask(req: { taskId: string }, _md: unknown, _opts: unknown, cb: (err: null, t: unknown) => void) {
        cb(null, Task.fromPartial({ taskId: req.taskId, tenant: "acme", state: stateOf.get(req.taskId), attempts: 1 }));
      },
    } as unknown as NonNullable<ConstructorParameters<typeof Worker>[0]["status"]>;
    const ran: string[] = [];
    worker = new Worker({ service: "test", nc: fx.nc, topo: fx.topo, queues: ["default"], concurrency: 4, ackWaitMs: 5_000, logger, status, handlers: { predict: async (ctx) => void ran.push(ctx.job.taskId) } });
    await worker.start();
    const js = fx.nc.jetstream();
    // Past the duplicate window the reconciler's copy is stored beside an original another worker holds.
    await publishJob(js, fx.topo, job("copy-running"), { republish: "1" });
    await publishJob(js, fx.topo, job("copy-lost"), { republish: "1" });
    await waitFor(async () => (await states(fx, "copy-lost")).includes(TaskState.SUCCESS));
    const jsm = await fx.nc.jetstreamManager();
    await waitFor(async () => (await jsm.streams.info(fx.topo.jobsStream)).state.messages === 0, { what: "both copies acked" });
    expect(ran).toEqual(["copy-lost"]);
    expect(await states(fx, "copy-running")).toEqual([]);
  });

  it("drain on SIGTERM hands a running job back at once, and another worker finishes it", async () => {
    fx = await natsFixture({ ackWaitMs: 30_000 });
    collect(fx);
    await fx.nc.flush();
    let started = false;
    const first = new Worker({
      service: "a",
      workerId: `a-${fx.ns}`,
      nc: fx.nc,
      topo: fx.topo,
      queues: ["default"],
      concurrency: 1,
      ackWaitMs: 30_000,
      logger,
      handlers: {
        predict: (ctx) =>
          new Promise((_, reject) => {
            started = true;
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
          }),
      },
    });
    await first.start();
    await publishJob(fx.nc.jetstream(), fx.topo, job("drain-1"));
    await waitFor(() => started);
    const t0 = Date.now();
    await first.drain(100);
    worker = new Worker({ service: "b", workerId: `b-${fx.ns}`, nc: fx.nc, topo: fx.topo, queues: ["default"], concurrency: 1, ackWaitMs: 30_000, logger, handlers: { predict: async () => "finished elsewhere" } });
    await worker.start();
    await waitFor(async () => (await states(fx, "drain-1")).includes(TaskState.SUCCESS), { timeoutMs: 10_000 });
    // Handed back (nak), not left to the 30 s ack timeout.
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await eventsOf(fx, "drain-1")).at(-1)?.workerId).toBe(`b-${fx.ns}`);
  });
});

function parseTimeLimitsAsPolicies(spec: string) {
  return Object.fromEntries(Object.entries(parseTimeLimits(spec)).map(([k, v]) => [k, { timeLimits: v }]));
}