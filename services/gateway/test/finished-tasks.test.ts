// Finished tasks held from the status service's change notices: polls of them
// are answered without a call, and only for the task's own tenant.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Task, TaskChangedBatch, TaskState } from "@millrace/contracts";
import { ManualClock } from "@millrace/runtime";
import { uniqueName, waitFor } from "@millrace/testkit";
import { buildApp, FinishedTasks } from "../src/main";
import { createHarness, requester, token, type Harness } from "./harness";

function finished(taskId: string, tenant: string, extra: Partial<Task> = {}): Task {
  return {
    taskId,
    tenant,
    kind: "predict",
    queue: "default",
    name: "",
    state: TaskState.SUCCESS,
    progress: undefined,
    resultJson: Buffer.from('{"predictions":[4]}'),
    error: undefined,
    attempts: 1,
    createdAtMs: 1_000,
    startedAtMs: 1_100,
    finishedAtMs: 1_200,
    nextAttemptAtMs: 0,
    parentId: "",
    history: [],
    children: [],
    expired: false,
    expiresAtMs: 0,
    cancelRequested: false,
    generation: 0,
    seq: 0,
    omittedResultBytes: 0,
    startByMs: 0,
    ...extra,
  };
}

type Change = { task?: Task; taskId?: string; state?: TaskState };
/** One notice (a TaskChangedBatch, as the status service publishes per commit) of the given changes. */
const batch = (...changes: Change[]): TaskChangedBatch => ({
  taskIds: changes.map((c) => c.task?.taskId ?? c.taskId!),
  states: changes.map((c) => c.task?.state ?? c.state ?? TaskState.PENDING),
  finished: changes.map((c) => (c.task ? Task.encode(c.task).finish() : new Uint8Array())),
});
const notice = (task: Task | undefined, taskId = task!.taskId, state = task?.state ?? TaskState.PENDING) => batch({ task, taskId, state });

describe("FinishedTasks", () => {
  it("answers the task's own tenant only, and forgets it on expiry or when a retry un-finishes it", () => {
    const clock = new ManualClock(10_000);
    const cache = new FinishedTasks(clock);
    cache.notice(notice(finished("t1", "acme", { expiresAtMs: 20_000 })));
    expect(cache.get("acme", "t1")?.state).toBe(TaskState.SUCCESS);
    expect(cache.get("other", "t1")).toBeUndefined();
    clock.advance(10_000);
    expect(cache.get("acme", "t1")).toBeUndefined();
    expect(cache.size).toBe(0);

    cache.notice(notice(finished("t2", "acme")));
    expect(cache.get("acme", "t2")).toBeDefined();
    cache.notice(notice(undefined, "t2", TaskState.PENDING));
    expect(cache.get("acme", "t2")).toBeUndefined();
  });

  it("takes every change of one notice: finished tasks are held, running ones dropped", () => {
    const cache = new FinishedTasks(new ManualClock(0));
    cache.notice(notice(finished("r1", "acme")));
    cache.notice(batch({ task: finished("b1", "acme") }, { taskId: "r1", state: TaskState.STARTED }, { task: finished("b2", "globex", { state: TaskState.FAILURE }) }));
    expect(cache.get("acme", "b1")?.state).toBe(TaskState.SUCCESS);
    expect(cache.get("globex", "b2")?.state).toBe(TaskState.FAILURE);
    expect(cache.get("acme", "r1")).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it("keeps within its byte bound, dropping the oldest first", () => {
    const one = Task.encode(finished("x0", "acme")).finish().length;
    const cache = new FinishedTasks(new ManualClock(0), { maxBytes: one * 3 });
    for (let i = 0; i < 5; i++) cache.notice(notice(finished(`x${i}`, "acme")));
    expect(cache.size).toBe(3);
    expect(cache.get("acme", "x0")).toBeUndefined();
    expect(cache.get("acme", "x4")).toBeDefined();
  });
});

describe("GET /v1/tasks/{id} with finished tasks held", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => h?.cleanup());

  it("answers a finished task from its change notice, without the status service, and 404s another tenant", async () => {
    const cache = new FinishedTasks({ now: () => Date.now() });
    cache.start(h.nats.nc, h.nats.topo, h.logger);
    try {
      const app = buildApp({ ...h.deps, finished: cache });
      const tenant = uniqueName("tenant_");
      const id = uniqueName("task_");
      // The fake status service has never heard of this task: only the notice knows it.
      // Something that is not a notice first: skipped, and the subscription goes on.
      h.nats.nc.publish(h.nats.topo.changedBatch, new Uint8Array([0xff, 0xff, 0xff]));
      h.nats.nc.publish(h.nats.topo.changedBatch, TaskChangedBatch.encode(notice(finished(id, tenant))).finish());
      await waitFor(() => cache.size > 0, { what: "the change notice" });
      const res = await requester(app, await token(tenant))("GET", `/v1/tasks/${id}`);
      expect(res.status).toBe(200);
      expect(await res.json() as any).toMatchObject({ task_id: id, state: "SUCCESS", result: { predictions: [4] } });
      const other = await requester(app, await token(uniqueName("other_")))("GET", `/v1/tasks/${id}`);
      expect(other.status).toBe(404);
      // A retry through this gateway forgets the outcome before it answers.
      h.status.tasks.set(id, finished(id, tenant, { state: TaskState.FAILURE }));
      const retried = await requester(app, await token(tenant))("POST", `/v1/tasks/${id}/retry`);
      expect(retried.status).toBe(202);
      expect(cache.get(tenant, id)).toBeUndefined();
      expect((await (await requester(app, await token(tenant))("GET", `/v1/tasks/${id}`)).json() as any).state).toBe("PENDING");
    } finally {
      cache.stop();
    }
  });
});
