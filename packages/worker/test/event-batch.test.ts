import { afterEach, describe, expect, it } from "vitest";
import { Job, TaskState, type TaskEvent } from "@millrace/contracts";
import { decodeEvents, jobEvent, systemClock, Topology } from "@millrace/runtime";
import { natsFixture, type NatsFixture } from "@millrace/testkit";
import { AttemptEvents, EventBatcher } from "@millrace/worker";

const job = (taskId: string): Job => Job.fromPartial({ taskId, tenant: "acme", kind: "predict", queue: "default", createdAtMs: 1_000 });

const ev = (taskId: string, state: TaskState, seq: number, extra: Partial<TaskEvent> = {}): TaskEvent =>
  jobEvent(job(taskId), { state, attempt: 1, seq, atMs: 2_000 + seq, workerId: "w", ...extra });

/** Every message in the events stream, oldest first: its subject and the events it carries. */
async function stored(fx: NatsFixture): Promise<{ subject: string; events: string[] }[]> {
  const jsm = await fx.nc.jetstreamManager();
  const last = (await jsm.streams.info(fx.topo.eventsStream)).state.last_seq;
  const out: { subject: string; events: string[] }[] = [];
  for (let seq = 1; seq <= last; seq++) {
    const m = await jsm.streams.getMessage(fx.topo.eventsStream, { seq });
    const subject = m.subject.slice(fx.topo.eventsWildcard.length - 1);
    out.push({ subject, events: decodeEvents(fx.topo, m.subject, m.data).map((e) => `${e.taskId}:${TaskState[e.state]}`) });
  }
  return out;
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe("EventBatcher (real NATS)", () => {
  let fx: NatsFixture;

  afterEach(async () => {
    await fx?.cleanup();
  });

  it("sends the STARTED and outcome events of jobs that end in the same turn as one stored message, resolving once it is stored", async () => {
    fx = await natsFixture();
    const b = new EventBatcher(fx.nc, fx.nc.jetstream(), fx.topo);
    b.started(ev("a", TaskState.STARTED, 1));
    b.started(ev("b", TaskState.STARTED, 1));
    b.started(ev("c", TaskState.STARTED, 1));
    const outcomes = [
      b.outcome(ev("a", TaskState.SUCCESS, 2, { resultJson: Buffer.from("1") })),
      b.outcome(ev("b", TaskState.FAILURE, 2)),
      b.outcome(ev("c", TaskState.REVOKED, 2)),
    ];
    await Promise.all(outcomes);
    // Resolved means stored: the message is in the stream without waiting further.
    expect(await stored(fx)).toEqual([
      { subject: "_batch.v1", events: ["a:STARTED", "a:SUCCESS", "b:STARTED", "b:FAILURE", "c:STARTED", "c:REVOKED"] },
    ]);
    expect(b.published).toBe(1);
  });

  it("leaves a lone job's events, and a STARTED whose job is still running, on the task's own subject, in order", async () => {
    fx = await natsFixture();
    const b = new EventBatcher(fx.nc, fx.nc.jetstream(), fx.topo);
    b.started(ev("solo", TaskState.STARTED, 1));
    await b.outcome(ev("solo", TaskState.SUCCESS, 2));
    b.started(ev("long", TaskState.STARTED, 1));
    await nextTurn(); // the turn ends with the job still running: its STARTED goes now
    await fx.nc.flush();
    expect((await stored(fx)).map((m) => m.subject)).toEqual(["solo", "solo", "long"]);
    await b.outcome(ev("long", TaskState.SUCCESS, 2));
    expect(await stored(fx)).toEqual([
      { subject: "solo", events: ["solo:STARTED"] },
      { subject: "solo", events: ["solo:SUCCESS"] },
      { subject: "long", events: ["long:STARTED"] },
      { subject: "long", events: ["long:SUCCESS"] },
    ]);
    expect(b.published).toBe(0);
  });

  it("publishes a held STARTED before the attempt's PROGRESS, and an outcome too big to batch alone after its STARTED", async () => {
    fx = await natsFixture();
    const b = new EventBatcher(fx.nc, fx.nc.jetstream(), fx.topo, { maxEventBytes: 1_000 });
    const attempt = new AttemptEvents(b, fx.nc.jetstream(), fx.topo, systemClock, job("p"), 1, "w");
    attempt.started();
    await attempt.progress({ percent: 50, message: "half", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 });
    b.started(ev("big", TaskState.STARTED, 1));
    b.started(ev("x", TaskState.STARTED, 1));
    b.started(ev("y", TaskState.STARTED, 1));
    await Promise.all([
      b.outcome(ev("big", TaskState.SUCCESS, 2, { resultJson: Buffer.from(JSON.stringify("z".repeat(2_000))) })),
      b.outcome(ev("x", TaskState.SUCCESS, 2)),
      b.outcome(ev("y", TaskState.SUCCESS, 2)),
    ]);
    await attempt.success({ done: true });
    expect(await stored(fx)).toEqual([
      { subject: "p", events: ["p:STARTED"] },
      { subject: "p", events: ["p:PROGRESS"] },
      { subject: "big", events: ["big:STARTED"] },
      { subject: "big", events: ["big:SUCCESS"] },
      { subject: "_batch.v1", events: ["x:STARTED", "x:SUCCESS", "y:STARTED", "y:SUCCESS"] },
      { subject: "p", events: ["p:SUCCESS"] },
    ]);
  });

  it("splits a turn into batches of at most maxBatchEvents, never parting a job's STARTED from its outcome", async () => {
    fx = await natsFixture();
    const b = new EventBatcher(fx.nc, fx.nc.jetstream(), fx.topo, { maxBatchEvents: 5 });
    const ids = ["j1", "j2", "j3", "j4", "j5"];
    for (const id of ids) b.started(ev(id, TaskState.STARTED, 1));
    await Promise.all(ids.map((id) => b.outcome(ev(id, TaskState.SUCCESS, 2))));
    expect(await stored(fx)).toEqual([
      { subject: "_batch.v1", events: ["j1:STARTED", "j1:SUCCESS", "j2:STARTED", "j2:SUCCESS"] },
      { subject: "_batch.v1", events: ["j3:STARTED", "j3:SUCCESS", "j4:STARTED", "j4:SUCCESS"] },
      { subject: "j5", events: ["j5:STARTED"] },
      { subject: "j5", events: ["j5:SUCCESS"] },
    ]);
  });

  it("rejects every outcome of a batch JetStream would not store, so no job is acked", async () => {
    fx = await natsFixture();
    // A namespace with no streams: every publish is refused (no responders), and retried first.
    const b = new EventBatcher(fx.nc, fx.nc.jetstream(), new Topology(`${fx.ns}none`));
    b.started(ev("a", TaskState.STARTED, 1));
    b.started(ev("b", TaskState.STARTED, 1));
    const results = await Promise.allSettled([b.outcome(ev("a", TaskState.SUCCESS, 2)), b.outcome(ev("b", TaskState.SUCCESS, 2))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: "DEPENDENCY_UNAVAILABLE" });
  });
});
