import { afterEach, describe, expect, it } from "vitest";
import { headers, type NatsConnection } from "nats";
import { Job, Task, TaskState, type TaskEvent } from "@millrace/contracts";
import { connectNats, createLogger, decodeEvents, ManualClock, publishJob } from "@millrace/runtime";
import { natsFixture, waitFor, type NatsFixture } from "@millrace/testkit";
import { claimKey, RunClaims, Worker, type JobHandler } from "@millrace/worker";
import { predictJob as job } from "./jobs";

const logger = createLogger("claims-test", "silent");

/** The status service as a worker sees it (our own gRPC boundary): every task still PENDING. */
const pendingStatus = {
  getTask(req: { taskId: string }, _md: unknown, _opts: unknown, cb: (err: null, t: unknown) => void) {
    cb(null, Task.fromPartial({ taskId: req.taskId, tenant: "acme", state: TaskState.PENDING, attempts: 0 }));
  },
} as unknown as NonNullable<ConstructorParameters<typeof Worker>[0]["status"]>;

/** What the reconciler does past the duplicate window: the same job stored again as a second message. */
async function publishCopy(fx: NatsFixture, j: Job, mark = "1"): Promise<void> {
  const h = headers();
  h.set("Millrace-Republish", mark);
  await fx.nc.jetstream().publish(fx.topo.jobSubject(j.kind, j.queue), Job.encode(j).finish(), { msgID: `${j.taskId}:copy`, headers: h });
}

describe("run claims (real NATS KV)", () => {
  let fx: NatsFixture;
  afterEach(async () => {
    await fx?.cleanup();
  });

  it("lets one message of a task hold the claim, its own redelivery take it back, and a stale one lose it", async () => {
    fx = await natsFixture();
    const kv = await fx.nc.jetstream().views.kv(fx.topo.bucket("claims"));
    const clock = new ManualClock(1_000_000);
    const a = new RunClaims(kv, clock, "worker-a", 90_000);
    const b = new RunClaims(kv, clock, "worker-b", 90_000);
    const t = { taskId: "task-1", generation: 0 };

    expect(await a.claim(t, 5)).toBe("claimed");
    // The copy (another stream sequence) while the original runs.
    expect(await b.claim(t, 9)).toBe("duplicate");
    // The original redelivered to another worker after its first worker died.
    expect(await b.claim(t, 5)).toBe("taken-over");
    expect((await kv.get(claimKey(t)))?.json()).toMatchObject({ seq: 5, worker: "worker-b" });

    // Renewals keep a claim from going stale; an unrenewed one is taken over.
    clock.advance(60_000);
    await b.renew(t, 5);
    clock.advance(60_000);
    expect(await a.claim(t, 9)).toBe("duplicate");
    clock.advance(31_000);
    expect(await a.claim(t, 9)).toBe("taken-over");
    // The holder it was taken from learns so on its next renewal and stops writing.
    await b.renew(t, 5);
    expect((await kv.get(claimKey(t)))?.json()).toMatchObject({ seq: 9, worker: "worker-a" });

    // Finished: neither the other message nor a redelivery of the same one runs, however late.
    await a.finish(t, 9);
    clock.advance(10 * 90_000);
    expect(await b.claim(t, 5)).toBe("duplicate");
    expect(await b.claim(t, 9)).toBe("duplicate");
    // A manual retry (next generation) is a new run.
    expect(await b.claim({ taskId: "task-1", generation: 1 }, 12)).toBe("claimed");
  });

  it("keys any task id safely", () => {
    expect(claimKey({ taskId: "0f8e-AB_c=", generation: 2 })).toBe("0f8e-AB_c=.g2");
    expect(claimKey({ taskId: "sched:nightly@2026-01-01T02:00Z", generation: 0 })).toMatch(/^x[0-9a-f]+\.g0$/);
  });
});

describe("workers with run claims (real NATS)", () => {
  let fx: NatsFixture;
  const workers: Worker[] = [];
  const conns: NatsConnection[] = [];
  const events = new Map<string, TaskEvent[]>();

  async function setup(ackWaitMs: number): Promise<void> {
    fx = await natsFixture({ ackWaitMs });
    events.clear();
    fx.nc.subscribe(fx.topo.eventsWildcard, {
      callback: (_e, m) => {
        for (const ev of decodeEvents(fx.topo, m.subject, m.data)) events.set(ev.taskId, [...(events.get(ev.taskId) ?? []), ev]);
      },
    });
    await fx.nc.flush();
  }

  async function startWorker(id: string, handler: JobHandler, ackWaitMs: number, nc: NatsConnection = fx.nc): Promise<Worker> {
    const w = new Worker({ service: id, workerId: `${id}-${fx.ns}`, nc, topo: fx.topo, queues: ["default"], handlers: { predict: handler }, concurrency: 1, ackWaitMs, logger, status: pendingStatus });
    await w.start();
    workers.push(w);
    return w;
  }

  const jobsLeft = async () => (await (await fx.nc.jetstreamManager()).streams.info(fx.topo.jobsStream)).state.messages;

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.drain(500).catch(() => undefined);
    for (const c of conns.splice(0)) await c.close().catch(() => undefined);
    await fx?.cleanup();
  });

  it("runs an old original and the reconciler's stored copy once, though two workers take them at once", async () => {
    await setup(10_000);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    const handler: JobHandler = async (ctx) => {
      ran.push(ctx.job.taskId);
      await gate;
      return "done";
    };
    await startWorker("a", handler, 10_000);
    await startWorker("b", handler, 10_000);
    // Queued 2 minutes behind a backlog: old enough that the reconciler may have republished it.
    const j = job("twin-1", { createdAtMs: Date.now() - 120_000 });
    await publishJob(fx.nc.jetstream(), fx.topo, j);
    await publishCopy(fx, j);
    // Each worker has one slot, so each holds one of the two messages. Without claims both
    // handlers run; with them the copy is acked unrun while the original is still running.
    await waitFor(async () => ran.length === 2 || (ran.length === 1 && (await jobsLeft()) === 1), { what: "both messages delivered" });
    release();
    await waitFor(() => (events.get("twin-1") ?? []).some((e) => e.state === TaskState.SUCCESS), { what: "SUCCESS" });
    await waitFor(async () => (await jobsLeft()) === 0, { what: "both messages acked" });
    expect(ran).toEqual(["twin-1"]);
    expect((events.get("twin-1") ?? []).map((e) => e.state)).toEqual([TaskState.STARTED, TaskState.SUCCESS]);
  });

  it("takes no claim for a job delivered soon after its submit, and keeps a finished one's", async () => {
    await setup(10_000);
    await startWorker("a", async () => "ok", 10_000);
    const js = fx.nc.jetstream();
    await publishJob(js, fx.topo, job("young-1"));
    await publishJob(js, fx.topo, job("old-1", { createdAtMs: Date.now() - 120_000 }));
    await waitFor(() => ["young-1", "old-1"].every((id) => (events.get(id) ?? []).some((e) => e.state === TaskState.SUCCESS)), { what: "both SUCCESS" });
    const kv = await js.views.kv(fx.topo.bucket("claims"));
    await waitFor(async () => (await kv.get(claimKey({ taskId: "old-1", generation: 0 })))?.json<{ done?: boolean }>().done === true, { what: "old-1's claim marked done" });
    expect(await kv.get(claimKey({ taskId: "young-1", generation: 0 }))).toBeNull();
    // A late original of the finished task (stored beside it past the window) is skipped.
    const ran: string[] = [];
    await workers[0].drain(500);
    workers.splice(0);
    await startWorker("b", async (ctx) => void ran.push(ctx.job.taskId), 10_000);
    await publishCopy(fx, job("old-1", { createdAtMs: Date.now() - 120_000 }), "lost");
    await waitFor(async () => (await jobsLeft()) === 0, { what: "late copy acked" });
    expect(ran).toEqual([]);
  });

  it("keeps its claim fresh while the job waits for a rate limit, so a copy cannot take it over", async () => {
    await setup(1_500);
    const clock = new ManualClock(1_000_000);
    const ran: string[] = [];
    const w = new Worker({
      service: "w",
      workerId: `w-${fx.ns}`,
      nc: fx.nc,
      topo: fx.topo,
      queues: ["default"],
      handlers: { predict: async (ctx) => void ran.push(ctx.job.taskId) },
      concurrency: 2,
      ackWaitMs: 1_500,
      logger,
      status: pendingStatus,
      clock,
      policies: { predict: { limits: { ratePerMinute: 1, burst: 1 } } },
    });
    await w.start();
    workers.push(w);
    const js = fx.nc.jetstream();
    // The first job takes the only token; the second, old enough to claim, waits a minute for the next.
    await publishJob(js, fx.topo, job("first", { createdAtMs: 1_000_000 }));
    await waitFor(() => ran.includes("first") && w.waitingForLimits === 0, { what: "first ran" });
    const waiter = job("waiter", { createdAtMs: 0 });
    await publishJob(js, fx.topo, waiter);
    await waitFor(() => w.waitingForLimits === 1, { what: "waiter waiting for the rate limit" });
    const kv = await js.views.kv(fx.topo.bucket("claims"));
    // Past the claim's staleness (3 × 1.5 s): only a renewal during the wait keeps it.
    clock.advance(5_000);
    await waitFor(async () => (await kv.get(claimKey(waiter)))?.json<{ at: number }>().at === 1_005_000, { what: "claim renewed while waiting" });
    const rival = new RunClaims(kv, clock, "rival", 4_500);
    expect(await rival.claim(waiter, 999_999)).toBe("duplicate");
    clock.advance(60_000);
    await waitFor(() => (events.get("waiter") ?? []).some((e) => e.state === TaskState.SUCCESS), { what: "waiter SUCCESS" });
    expect(ran).toEqual(["first", "waiter"]);
  });

  it("lets a redelivery of the claiming message run after its worker dies mid-run", async () => {
    await setup(1_500);
    // Worker a runs on its own connection, which the test closes: a process that died.
    const doomed = await connectNats({ url: fx.natsUrl, name: `doomed-${fx.ns}` });
    conns.push(doomed);
    let startedOnA = false;
    const a = new Worker({
      service: "a",
      workerId: `a-${fx.ns}`,
      nc: doomed,
      topo: fx.topo,
      queues: ["default"],
      handlers: { predict: () => ((startedOnA = true), new Promise(() => undefined)) },
      concurrency: 1,
      ackWaitMs: 1_500,
      logger,
      status: pendingStatus,
    });
    await a.start();
    await publishJob(fx.nc.jetstream(), fx.topo, job("crash-1", { createdAtMs: Date.now() - 120_000 }));
    await waitFor(() => startedOnA, { what: "started on a" });
    await doomed.close();
    await startWorker("b", async () => "recovered", 1_500);
    await waitFor(() => (events.get("crash-1") ?? []).some((e) => e.state === TaskState.SUCCESS), { timeoutMs: 15_000, what: "SUCCESS on b" });
    const last = (events.get("crash-1") ?? []).at(-1)!;
    expect(last.workerId).toBe(`b-${fx.ns}`);
    expect(last.attempt).toBe(2);
  });
});
