// Finished tasks held from the status service's done notices: polls of them
// are answered without a call, and only for the task's own tenant.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskChanged, TaskState, type Task } from "@millrace/contracts";
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
    ...extra,
  };
}

const notice = (task: Task | undefined, taskId = task!.taskId, state = task?.state ?? TaskState.PENDING) => TaskChanged.encode({ taskId, state, task }).finish();

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

  it("keeps within its byte bound, dropping the oldest first", () => {
    const one = notice(finished("x0", "acme")).length;
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

  it("answers a finished task from its done notice, without the status service, and 404s another tenant", async () => {
    const cache = new FinishedTasks({ now: () => Date.now() });
    cache.start(h.nats.nc, h.nats.topo, h.logger);
    try {
      const app = buildApp({ ...h.deps, finished: cache });
      const tenant = uniqueName("tenant_");
      const id = uniqueName("task_");
      // The fake status service has never heard of this task: only the notice knows it.
      h.nats.nc.publish(h.nats.topo.changedSubject(id, true), notice(finished(id, tenant)));
      await waitFor(() => cache.size > 0, { what: "the done notice" });
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
