import { afterEach, describe, expect, it } from "vitest";
import { Job, TaskState } from "@millrace/contracts";
import { createLogger, decodeEvents, ManualClock, publishJob } from "@millrace/runtime";
import { natsFixture, waitFor, type NatsFixture } from "@millrace/testkit";
import { Worker, type JobHandler, type LimitPolicy } from "@millrace/worker";

const logger = createLogger("limits-test", "silent");

describe("limits across worker replicas (real NATS KV)", () => {
  let fx: NatsFixture;
  let workers: Worker[] = [];
  const events = new Map<string, TaskState[]>();

  async function replicas(n: number, handler: JobHandler, limits: LimitPolicy, clock: ManualClock) {
    fx.nc.subscribe(fx.topo.eventsWildcard, {
      callback: (_e, m) => {
        for (const ev of decodeEvents(fx.topo, m.subject, m.data)) events.set(ev.taskId, [...(events.get(ev.taskId) ?? []), ev.state]);
      },
    });
    await fx.nc.flush();
    for (let i = 0; i < n; i++) {
      const w = new Worker({ service: `w${i}`, workerId: `w${i}-${fx.ns}`, nc: fx.nc, topo: fx.topo, queues: ["default"], handlers: { train: handler }, concurrency: 4, ackWaitMs: 5_000, logger, clock, policies: { train: { limits } } });
      await w.start();
      workers.push(w);
    }
  }
  const job = (id: string, tenant = "acme") => Job.fromPartial({ taskId: id, tenant, kind: "train", queue: "default", createdAtMs: 1, payload: { $case: "train", value: { name: "m", datasetId: "d", target: "y" } } });
  const has = (id: string, s: TaskState) => (events.get(id) ?? []).includes(s);
  const waiting = () => workers.reduce((n, w) => n + w.waitingForLimits, 0);

  afterEach(async () => {
    for (const w of workers) await w.drain(500);
    workers = [];
    events.clear();
    await fx?.cleanup();
  });

  it("a per-kind rate limit holds across two workers (token bucket on an injected clock)", async () => {
    fx = await natsFixture({ ackWaitMs: 5_000 });
    const clock = new ManualClock(1_000_000);
    await replicas(2, async () => "ok", { ratePerMinute: 60, burst: 1 }, clock);
    for (const id of ["r1", "r2", "r3"]) await publishJob(fx.nc.jetstream(), fx.topo, job(id));
    // One token: one job runs, the other two are held by the workers.
    await waitFor(() => ["r1", "r2", "r3"].filter((id) => has(id, TaskState.SUCCESS)).length === 1 && waiting() === 2, { what: "one run, two waiting" });
    clock.advance(1_000);
    await waitFor(() => ["r1", "r2", "r3"].filter((id) => has(id, TaskState.SUCCESS)).length === 2 && waiting() === 1, { what: "second token" });
    clock.advance(1_000);
    await waitFor(() => ["r1", "r2", "r3"].every((id) => has(id, TaskState.SUCCESS)), { what: "third token" });
  });

  it("a job whose start_by passes while it waits for a rate token is not run once it gets one: REVOKED, EXPIRED", async () => {
    fx = await natsFixture({ ackWaitMs: 5_000 });
    const clock = new ManualClock(1_000_000);
    let runs = 0;
    await replicas(1, async () => {
      runs += 1;
      return "ok";
    }, { ratePerMinute: 60, burst: 1 }, clock);
    await publishJob(fx.nc.jetstream(), fx.topo, job("first"));
    await waitFor(() => has("first", TaskState.SUCCESS), { what: "the one token used" });
    // In time when it arrives, so it waits for the next token...
    await publishJob(fx.nc.jetstream(), fx.topo, Job.fromPartial({ ...job("late"), startByMs: clock.now() + 500 }));
    await waitFor(() => waiting() === 1, { what: "the second job waiting for a token" });
    // ...which comes after its start_by.
    clock.advance(2_000);
    await waitFor(() => has("late", TaskState.REVOKED), { what: "the late job expired" });
    expect(events.get("late")).toEqual([TaskState.REVOKED]);
    expect(runs).toBe(1);
  });

  it("a per-tenant concurrency limit holds across two workers and frees the slot when a job ends", async () => {
    fx = await natsFixture({ ackWaitMs: 5_000 });
    const release: Array<() => void> = [];
    await replicas(2, () => new Promise((r) => release.push(() => r("done"))), { concurrencyPerKey: 1, concurrencyBy: "tenant" }, new ManualClock(0));
    await publishJob(fx.nc.jetstream(), fx.topo, job("a1", "acme"));
    await publishJob(fx.nc.jetstream(), fx.topo, job("a2", "acme"));
    await publishJob(fx.nc.jetstream(), fx.topo, job("b1", "other"));
    // acme runs one job, the other waits; the other tenant is not held back.
    await waitFor(() => has("b1", TaskState.STARTED) && [has("a1", TaskState.STARTED), has("a2", TaskState.STARTED)].filter(Boolean).length === 1 && waiting() === 1, { what: "one acme job running" });
    release.shift()!();
    release.shift()!();
    await waitFor(() => has("a1", TaskState.STARTED) && has("a2", TaskState.STARTED), { what: "second acme job started after the first ended" });
    while (release.length) release.shift()!();
    await waitFor(() => ["a1", "a2", "b1"].every((id) => has(id, TaskState.SUCCESS)), { what: "all done" });
  });
});
