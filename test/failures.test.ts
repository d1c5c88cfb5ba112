// Task semantics under real failure: processes are killed with SIGKILL, NATS
// is restarted, the status service is restarted. Every service is a separate
// OS process talking to real NATS and Postgres.
import { afterEach, describe, expect, it } from "vitest";
import { connect } from "nats";
import { Topology } from "@millrace/runtime";
import { waitFor } from "@millrace/testkit";
import { privateNats, startStack, taskIn, type Stack } from "./harness";

/** A classification set big enough that a forest takes seconds to fit. */
function bigCsv(rows: number, features: number): string {
  let s = 3;
  const r = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const head = [...Array.from({ length: features }, (_, i) => `f${i}`), "label"].join(",");
  const lines = [head];
  for (let i = 0; i < rows; i++) {
    const xs = Array.from({ length: features }, () => Math.round(r() * 1000) / 100);
    const label = xs[0] + xs[1] * 0.5 - xs[2] + (r() - 0.5) * 4 > 2 ? "yes" : "no";
    lines.push([...xs, label].join(","));
  }
  return lines.join("\n");
}

const SLOW_FOREST = { type: "random_forest", params: { n_estimators: 3000, max_depth: 12 } };

async function uploadBig(stack: Stack): Promise<string> {
  const up = await stack.api("/v1/datasets?name=big", { method: "POST", tenant: "acme", headers: { "content-type": "text/csv" }, body: bigCsv(3000, 12) });
  expect(up.status).toBe(201);
  return up.body.dataset_id;
}

async function trainSlow(stack: Stack, datasetId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const t = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: { dataset_id: datasetId, target: "label", model: SLOW_FOREST, name: "slow", ...extra } });
  expect(t.status, JSON.stringify(t.body)).toBe(202);
  return t.body.task_id;
}

/** Waits until the training loop reports progress (trees are being built). */
async function training(stack: Stack, taskId: string): Promise<void> {
  await waitFor(
    async () => {
      const r = await stack.api(`/v1/tasks/${taskId}`, { tenant: "acme" });
      return r.body.state === "PROGRESS" && r.body.progress?.percent > 5;
    },
    { timeoutMs: 60_000, what: "training under way" },
  );
}

describe("failure semantics through the real services", () => {
  let stack: Stack | undefined;
  let nats: Awaited<ReturnType<typeof privateNats>> | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
    await nats?.stop("SIGKILL");
    nats = undefined;
  });

  it("a trainer killed with SIGKILL mid-training: another takes the job over after the ack timeout and it ends SUCCESS with attempts = 2", async () => {
    stack = await startStack({ services: ["status", "predictor", "gateway"], env: { JOB_ACK_WAIT_MS: "3000" } });
    await stack.start("trainer", {}, "trainer-a");
    const ds = await uploadBig(stack);
    const id = await trainSlow(stack, ds, { model: { type: "random_forest", params: { n_estimators: 600, max_depth: 10 } } });
    await training(stack, id);
    await stack.kill("trainer-a", "SIGKILL");
    await stack.start("trainer", {}, "trainer-b");
    const done = await taskIn(stack, "acme", id, ["SUCCESS", "FAILURE"], 180_000);
    expect(done.state, JSON.stringify(done.error)).toBe("SUCCESS");
    expect(done.attempts).toBe(2);
    expect(done.history.map((h: { attempt: number }) => h.attempt)).toEqual([1, 2]);
    // One model version: the killed attempt never registered one.
    const model = await stack.api("/v1/models/slow", { tenant: "acme" });
    expect(model.body.latest_version).toBe(1);
  }, 300_000);

  it("a job past its start_within_ms when a worker comes up is not run: REVOKED with error EXPIRED, while one submitted without it then trains", async () => {
    // No trainer yet: the jobs wait in the queue, as behind a backlog or an outage.
    stack = await startStack({ services: ["status", "gateway"] });
    const up = await stack.api("/v1/datasets?name=small", { method: "POST", tenant: "acme", headers: { "content-type": "text/csv" }, body: bigCsv(200, 3) });
    expect(up.status).toBe(201);
    const body = { dataset_id: up.body.dataset_id, target: "label", model: { type: "decision_tree" }, name: "late" };
    // 1 ms: the trainer's start-up alone takes far longer, so this job is certainly late when it arrives.
    const late = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: { ...body, start_within_ms: 1 } });
    expect(late.status).toBe(202);
    expect(Date.parse(late.body.start_by)).toBeGreaterThan(0);
    const plain = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: body });
    await stack.start("trainer");
    const expired = await taskIn(stack, "acme", late.body.task_id, ["SUCCESS", "FAILURE", "REVOKED"], 60_000);
    expect(expired.state).toBe("REVOKED");
    expect(expired.error).toMatchObject({ type: "TaskExpired", code: "EXPIRED", retryable: false });
    expect(expired.error.message).toContain(`not started by ${late.body.start_by}`);
    expect(expired.started_at ?? null).toBeNull();
    expect(expired.start_by).toBe(late.body.start_by);
    const ran = await taskIn(stack, "acme", plain.body.task_id, ["SUCCESS", "FAILURE", "REVOKED"], 60_000);
    expect(ran.state).toBe("SUCCESS");
    // The expired one made no model version: the plain job's is the first.
    expect(ran.result.model).toEqual({ name: "late", version: 1 });
  }, 120_000);

  it("a trainer killed mid-training whose job message NATS also lost: the reconciler republishes it once the worker's heartbeat is gone, and it ends SUCCESS on attempt 2", async () => {
    stack = await startStack({ services: ["status", "predictor", "gateway"], env: { RECONCILE_LOST_AFTER_MS: "3000", RECONCILE_EVERY_MS: "500" } });
    await stack.start("trainer", {}, "trainer-a");
    const ds = await uploadBig(stack);
    const id = await trainSlow(stack, ds, { model: { type: "random_forest", params: { n_estimators: 1500, max_depth: 10 } } });
    await training(stack, id);
    // trainer-a's heartbeat (every 5 s) lists the task before it dies.
    await waitFor(
      async () => ((await stack!.api("/v1/workers", { tenant: "acme" })).body as { workers: { in_flight: string[] }[] }).workers.some((w) => w.in_flight.includes(id)),
      { timeoutMs: 15_000, what: "the task in trainer-a's heartbeat" },
    );
    await stack.kill("trainer-a", "SIGKILL");
    const killedAt = Date.now();
    // What an unsynced JetStream store lost in a crash looks like: the unacked job is gone,
    // so no ack timeout will ever redeliver it.
    const nc = await connect({ servers: stack.natsUrl });
    try {
      const jsm = await nc.jetstreamManager();
      const topo = new Topology(stack.ns);
      const held = await jsm.streams.getMessage(topo.jobsStream, { last_by_subj: topo.jobSubject("train", "default") });
      expect(await jsm.streams.deleteMessage(topo.jobsStream, held.seq)).toBe(true);
    } finally {
      await nc.close();
    }
    await stack.start("trainer", {}, "trainer-b");
    // trainer-a's heartbeat lists the task until the workers bucket's TTL (30 s) drops it.
    const done = await taskIn(stack, "acme", id, ["SUCCESS", "FAILURE"], 150_000);
    expect(done.state, JSON.stringify(done.error)).toBe("SUCCESS");
    expect(done.attempts).toBe(2);
    expect(done.history.map((h: { attempt: number }) => h.attempt)).toEqual([1, 2]);
    // Not while the dead worker's last heartbeat (written at most 5 s before the kill, kept 30 s) still listed it.
    expect(Date.parse(done.history[1].started_at) - killedAt).toBeGreaterThanOrEqual(20_000);
    expect((stack.logs.get("status") ?? []).some((l) => l.includes("republished a STARTED task that no live worker holds"))).toBe(true);
    const model = await stack.api("/v1/models/slow", { tenant: "acme" });
    expect(model.body.latest_version).toBe(1);
  }, 240_000);

  it("cancel mid-training stops the loop within about a second, ends REVOKED, survives restarts, and a second cancel answers 409", async () => {
    stack = await startStack();
    const ds = await uploadBig(stack);
    const id = await trainSlow(stack, ds);
    await training(stack, id);
    const t0 = Date.now();
    const c = await stack.api(`/v1/tasks/${id}/cancel`, { method: "POST", tenant: "acme" });
    expect([200, 202]).toContain(c.status);
    const revoked = await taskIn(stack, "acme", id, ["REVOKED", "SUCCESS", "FAILURE"], 10_000);
    const stoppedMs = Date.now() - t0;
    expect(revoked.state).toBe("REVOKED");
    expect(stoppedMs).toBeLessThan(1_500);
    expect((await stack.api(`/v1/tasks/${id}/cancel`, { method: "POST", tenant: "acme" })).status).toBe(409);
    expect((await stack.api(`/v1/tasks/${id}`, { method: "DELETE", tenant: "acme" })).status).toBe(409);

    // A queued task that is revoked never starts, even across a restart of every service.
    for (const name of ["trainer", "predictor", "gateway", "scheduler", "status"]) await stack.kill(name, "SIGKILL");
    stack.procs.clear();
    await stack.start("status");
    await stack.start("gateway");
    await waitFor(async () => (await fetch(`${stack!.url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 60_000, what: "gateway back" });
    const queued = await trainSlow(stack, ds);
    const cq = await stack.api(`/v1/tasks/${queued}`, { method: "DELETE", tenant: "acme" });
    expect([200, 202]).toContain(cq.status);
    await stack.kill("status", "SIGKILL");
    await stack.kill("gateway", "SIGKILL");
    await stack.start("status");
    await stack.start("gateway");
    await stack.start("trainer");
    await stack.start("predictor");
    await waitFor(async () => (await fetch(`${stack!.url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 60_000, what: "gateway back" });
    const after = await taskIn(stack, "acme", queued, ["REVOKED", "SUCCESS", "FAILURE"]);
    expect(after.state).toBe("REVOKED");
    // The restarted trainer took the queued job off the queue without running it:
    // no STARTED was recorded and no model version was ever created.
    const { connect } = await import("nats");
    const nc = await connect({ servers: stack.natsUrl });
    const jsm = await nc.jetstreamManager();
    await waitFor(async () => (await jsm.streams.info(`${stack!.ns.toUpperCase()}_JOBS`)).state.messages === 0, { what: "queued job consumed" });
    await nc.close();
    expect(after.started_at ?? null).toBeNull();
    // (the predictor serves the registry; wait until it answers at all)
    const models = await waitFor(async () => {
      const r = await stack!.api("/v1/models/slow", { tenant: "acme" });
      return r.status === 503 ? undefined : r;
    });
    expect(models.status).toBe(404);
  }, 300_000);

  it("a job whose attempts all die lands in the dead-letter stream, fails with its history, and /retry re-queues it", async () => {
    stack = await startStack({ services: ["status", "predictor", "gateway"], env: { JOB_ACK_WAIT_MS: "2000" } });
    await stack.start("trainer", {}, "trainer-a");
    const ds = await uploadBig(stack);
    const id = await trainSlow(stack, ds, { model: { type: "random_forest", params: { n_estimators: 600, max_depth: 10 } }, retry: { max_attempts: 1 } });
    await training(stack, id);
    await stack.kill("trainer-a", "SIGKILL");
    await stack.start("trainer", {}, "trainer-b");
    const failed = await taskIn(stack, "acme", id, ["FAILURE", "SUCCESS"], 60_000);
    expect(failed.state).toBe("FAILURE");
    expect(failed.error.type).toBe("WorkerLost");
    expect(failed.history.length).toBeGreaterThanOrEqual(1);
    // The raw job is kept in the dead-letter stream.
    const { connect } = await import("nats");
    const nc = await connect({ servers: stack.natsUrl });
    const jsm = await nc.jetstreamManager();
    const dlq = await jsm.streams.info(`${stack.ns.toUpperCase()}_DLQ`);
    expect(dlq.state.messages).toBe(1);
    await nc.close();
    // Manual retry: a new attempt of the same task.
    const retry = await stack.api(`/v1/tasks/${id}/retry`, { method: "POST", tenant: "acme" });
    expect([200, 202]).toContain(retry.status);
    const done = await taskIn(stack, "acme", id, ["SUCCESS", "FAILURE"], 180_000);
    expect(done.state, JSON.stringify(done.error)).toBe("SUCCESS");
    expect(done.attempts).toBeGreaterThanOrEqual(3);
  }, 300_000);

  it("a NATS restart (SIGKILL) while jobs are in flight loses nothing and duplicates nothing", async () => {
    nats = await privateNats();
    stack = await startStack({ natsUrl: nats.url, env: { RECONCILE_AFTER_MS: "2000", RECONCILE_EVERY_MS: "500" } });
    const csv = ["x,y", ...Array.from({ length: 50 }, (_, i) => `${i},${2 * i + 1}`)].join("\n");
    const up = await stack.api("/v1/datasets?name=line", { method: "POST", tenant: "acme", headers: { "content-type": "text/csv" }, body: csv });
    const tr = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: { dataset_id: up.body.dataset_id, target: "y", model: { type: "linear_regression" }, name: "line" } });
    expect((await taskIn(stack, "acme", tr.body.task_id, ["SUCCESS", "FAILURE"])).state).toBe("SUCCESS");
    await stack.kill("predictor", "SIGKILL");
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await stack.api("/v1/predict/async", { method: "POST", tenant: "acme", json: { model: "line", instances: [{ x: i }] } });
      expect(r.status).toBe(202);
      ids.push(r.body.task_id);
    }
    await stack.start("predictor");
    await nats.stop("SIGKILL");
    await nats.start();
    for (let i = 100; i < 150; i++) {
      const r = await stack.api("/v1/predict/async", { method: "POST", tenant: "acme", json: { model: "line", instances: [{ x: i }] } });
      if (r.status === 202) ids.push(r.body.task_id);
    }
    for (const id of ids) {
      const t = await taskIn(stack, "acme", id, ["SUCCESS", "FAILURE"], 90_000);
      expect(t.state).toBe("SUCCESS");
      expect(t.result.predictions[0]).toBeCloseTo(2 * Number(ids.indexOf(id)) + 1, 0);
    }
    const all = await stack.api("/v1/tasks?type=predict&limit=500", { tenant: "acme" });
    expect(all.body.tasks.length).toBe(ids.length);
  }, 300_000);

  it("a status service restart catches up from its durable consumer", async () => {
    stack = await startStack();
    const csv = ["x,y", ...Array.from({ length: 50 }, (_, i) => `${i},${3 * i}`)].join("\n");
    const up = await stack.api("/v1/datasets?name=line", { method: "POST", tenant: "acme", headers: { "content-type": "text/csv" }, body: csv });
    const tr = await stack.api("/v1/train", { method: "POST", tenant: "acme", json: { dataset_id: up.body.dataset_id, target: "y", model: { type: "linear_regression" }, name: "line" } });
    await taskIn(stack, "acme", tr.body.task_id, ["SUCCESS"]);
    await stack.kill("predictor", "SIGKILL");
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await stack.api("/v1/predict/async", { method: "POST", tenant: "acme", json: { model: "line", instances: [{ x: i }] } })).body.task_id);
    await stack.kill("status", "SIGKILL");
    // Work happens while status is down: events pile up in the stream.
    await stack.start("predictor");
    await new Promise((r) => setTimeout(r, 0));
    await stack.start("status");
    for (const id of ids) expect((await taskIn(stack, "acme", id, ["SUCCESS", "FAILURE"], 60_000)).state).toBe("SUCCESS");
  }, 300_000);
});
