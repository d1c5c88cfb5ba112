// Reading and controlling tasks: the task JSON, long polls, server-sent
// events, results, cancel/retry, lists and tenant isolation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "@millrace/contracts";
import { uniqueName, waitFor } from "@millrace/testkit";
import { createHarness, requester, token, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.cleanup());

async function newTask(tenant: string, kind: "predict" | "explain" = "predict"): Promise<{ id: string; req: ReturnType<typeof requester> }> {
  const req = requester(h.app, await token(tenant));
  const res = await req("POST", `/v1/${kind}/async`, { model: "m", instances: [{ x: 1 }] });
  expect(res.status).toBe(202);
  return { id: (await res.json() as any).task_id, req };
}

/** Reads server-sent events off a response body until it ends. */
async function* sseEvents(res: Response): AsyncGenerator<{ event: string; data: unknown; id?: string }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      let sep: number;
      while ((sep = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        const ev: { event: string; data: string; id?: string } = { event: "message", data: "" };
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) ev.event = line.slice(6).trim();
          else if (line.startsWith("data:")) ev.data += line.slice(5).trim();
          else if (line.startsWith("id:")) ev.id = line.slice(3).trim();
        }
        if (ev.data) yield { ...ev, data: JSON.parse(ev.data) };
      }
      const { done, value } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
    }
  } finally {
    // Leaving early (return/throw) hangs up, like a browser closing the tab.
    await reader.cancel().catch(() => undefined);
  }
}

describe("GET /v1/tasks/{id}", () => {
  it("maps the task row: state, progress, result, timestamps, history", async () => {
    const tenant = uniqueName("tenant_");
    const { id, req } = await newTask(tenant);
    const created = h.status.tasks.get(id)!.createdAtMs;
    h.status.update(id, {
      state: TaskState.SUCCESS,
      attempts: 1,
      startedAtMs: created + 100,
      finishedAtMs: created + 350,
      progress: { percent: 100, message: "done", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 },
      result: { predictions: [2] },
      history: [{ attempt: 1, workerId: "w1", startedAtMs: created + 100, finishedAtMs: created + 350, outcome: TaskState.SUCCESS, error: undefined }],
    });
    const res = await req("GET", `/v1/tasks/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json() as any).toEqual({
      task_id: id,
      type: "predict",
      state: "SUCCESS",
      progress: { percent: 100, message: "done" },
      result: { predictions: [2] },
      attempts: 1,
      queue: "default",
      created_at: new Date(created).toISOString(),
      started_at: new Date(created + 100).toISOString(),
      finished_at: new Date(created + 350).toISOString(),
      duration_ms: 250,
      history: [
        {
          attempt: 1,
          worker_id: "w1",
          started_at: new Date(created + 100).toISOString(),
          finished_at: new Date(created + 350).toISOString(),
          outcome: "SUCCESS",
        },
      ],
    });
  });

  it("404 for unknown and for another tenant's task; 410 once expired", async () => {
    const tenant = uniqueName("tenant_");
    const { id, req } = await newTask(tenant);
    expect((await req("GET", "/v1/tasks/00000000-0000-0000-0000-000000000000")).status).toBe(404);
    const other = requester(h.app, await token(uniqueName("other_")));
    for (const path of [`/v1/tasks/${id}`, `/v1/tasks/${id}/result`, `/v1/tasks/${id}/events`]) {
      const res = await other("GET", path);
      expect(res.status, path).toBe(404);
    }
    expect((await other("POST", `/v1/tasks/${id}/cancel`)).status).toBe(404);
    h.status.update(id, { expired: true });
    const gone = await req("GET", `/v1/tasks/${id}`);
    expect(gone.status).toBe(410);
    expect((await gone.json() as any).error.code).toBe("GONE");
  });

  it("?wait long-polls until the task is terminal", async () => {
    const { id, req } = await newTask(uniqueName("tenant_"));
    const pending = req("GET", `/v1/tasks/${id}?wait=30`);
    await waitFor(() => h.status.watchers > 0, { what: "the gateway to watch the task" });
    h.status.update(id, { state: TaskState.STARTED, attempts: 1, startedAtMs: Date.now() });
    h.status.update(id, { state: TaskState.SUCCESS, finishedAtMs: Date.now(), result: { ok: true } });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json() as any).toMatchObject({ task_id: id, state: "SUCCESS", result: { ok: true } });
    // A waiter needs the outcome, not the replayed history.
    expect(h.status.watches.filter((w) => w.taskId === id).map((w) => w.history)).toEqual([false]);
    await waitFor(() => h.status.watchers === 0, { what: "the watch to close" });
  });

  it("?wait answers the current row when the wait runs out; bad wait is a 400", async () => {
    const { id, req } = await newTask(uniqueName("tenant_"));
    const res = await req("GET", `/v1/tasks/${id}?wait=1`);
    expect(res.status).toBe(200);
    expect((await res.json() as any).state).toBe("PENDING");
    const bad = await req("GET", `/v1/tasks/${id}?wait=999`);
    expect(bad.status).toBe(400);
    expect((await bad.json() as any).error.field).toBe("wait");
  });
});

describe("GET /v1/tasks/{id}/events", () => {
  it("sends the current row, then each change, and ends after the terminal state", async () => {
    const { id, req } = await newTask(uniqueName("tenant_"));
    const res = await req("GET", `/v1/tasks/${id}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const events = sseEvents(res);
    const first = await events.next();
    expect(first.value).toMatchObject({ event: "PENDING", data: { task_id: id, state: "PENDING" } });
    // An event stream asks for the task's history first.
    expect(h.status.watches.filter((w) => w.taskId === id).map((w) => w.history)).toEqual([true]);

    h.status.update(id, { state: TaskState.PROGRESS, progress: { percent: 40, message: "node 2/5", currentNode: 2, totalNodes: 5, nodeType: "split", done: 0, total: 0 } });
    const second = await events.next();
    expect(second.value).toMatchObject({
      event: "PROGRESS",
      data: { state: "PROGRESS", progress: { percent: 40, message: "node 2/5", current_node: 2, total_nodes: 5, node_type: "split" } },
    });

    h.status.update(id, { state: TaskState.FAILURE, error: { type: "DataError", message: "target is empty", code: "DATA", retryable: false } });
    const third = await events.next();
    expect(third.value).toMatchObject({ event: "FAILURE", data: { error: { type: "DataError", message: "target is empty" } } });
    expect((await events.next()).done).toBe(true);
    await waitFor(() => h.status.watchers === 0, { what: "the watch to close" });
  });

  it("stops watching when the client goes away", async () => {
    const { id, req } = await newTask(uniqueName("tenant_"));
    const before = h.status.watchers;
    const res = await req("GET", `/v1/tasks/${id}/events`);
    const events = sseEvents(res);
    expect((await events.next()).value).toMatchObject({ event: "PENDING" });
    expect(h.status.watchers).toBe(before + 1);
    await events.return(undefined);
    await waitFor(() => h.status.watchers === before, { what: "the watch to be cancelled" });
  });

  it("ids each event by where the task stands; with Last-Event-ID sends only what came after, 204 once the end was seen, 400 for a bad id", async () => {
    const { id, req } = await newTask(uniqueName("tenant_"));
    h.status.update(id, { state: TaskState.STARTED, attempts: 1, seq: 1 });
    h.status.update(id, { state: TaskState.PROGRESS, attempts: 1, seq: 2, progress: { percent: 50, message: "half", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 } });
    const fresh = sseEvents(await req("GET", `/v1/tasks/${id}/events`));
    expect((await fresh.next()).value).toMatchObject({ event: "PROGRESS", id: "0.1.2" });
    await fresh.return(undefined);

    // Reconnecting after 0.1.2: the current row is not sent again; the next change is.
    const resumed = await req("GET", `/v1/tasks/${id}/events`, undefined, { "last-event-id": "0.1.2" });
    expect(resumed.status).toBe(200);
    const events = sseEvents(resumed);
    await waitFor(() => h.status.watches.filter((w) => w.taskId === id).length === 2, { what: "the second watch" });
    h.status.update(id, { cancelRequested: true });
    h.status.update(id, { state: TaskState.REVOKED, attempts: 1, seq: 3, cancelRequested: true });
    expect((await events.next()).value).toMatchObject({ event: "PROGRESS", id: "0.1.2.c", data: { cancel_requested: true } });
    expect((await events.next()).value).toMatchObject({ event: "REVOKED", id: "0.1.3.c" });
    expect((await events.next()).done).toBe(true);

    // Seen to the end: 204, which stops EventSource; before the end: the rest.
    const ended = await req("GET", `/v1/tasks/${id}/events`, undefined, { "last-event-id": "0.1.3.c" });
    expect(ended.status).toBe(204);
    const rest = [];
    for await (const ev of sseEvents(await req("GET", `/v1/tasks/${id}/events`, undefined, { "last-event-id": "0.1.2" }))) rest.push(ev.id);
    expect(rest).toEqual(["0.1.3.c"]);

    const bad = await req("GET", `/v1/tasks/${id}/events`, undefined, { "last-event-id": "7" });
    expect(bad.status).toBe(400);
    expect((await bad.json() as any).error.field).toBe("Last-Event-ID");
    // Another tenant's task is still a 404 with an id.
    const other = await requester(h.app, await token(uniqueName("tenant_")))("GET", `/v1/tasks/${id}/events`, undefined, { "last-event-id": "0.1.3.c" });
    expect(other.status).toBe(404);
  });

  it("for a finished task sends one event and ends", async () => {
    const { id, req } = await newTask(uniqueName("tenant_"));
    h.status.update(id, { state: TaskState.SUCCESS, result: [1] });
    const all = [];
    for await (const ev of sseEvents(await req("GET", `/v1/tasks/${id}/events`))) all.push(ev);
    expect(all.map((e) => e.event)).toEqual(["SUCCESS"]);
  });
});

describe("GET /v1/tasks/{id}/result", () => {
  it("202 while running, 200 with the result on success, 409 with the error on failure", async () => {
    const { id, req } = await newTask(uniqueName("tenant_"));
    const running = await req("GET", `/v1/tasks/${id}/result`);
    expect(running.status).toBe(202);
    expect(running.headers.get("retry-after")).toBe("1");
    expect(await running.json() as any).toMatchObject({ task_id: id, state: "PENDING", status_url: `/v1/tasks/${id}` });

    h.status.update(id, { state: TaskState.SUCCESS, result: { predictions: [1, 2] } });
    const ok = await req("GET", `/v1/tasks/${id}/result`);
    expect(ok.status).toBe(200);
    expect(await ok.json() as any).toEqual({ task_id: id, state: "SUCCESS", result: { predictions: [1, 2] } });

    const { id: failed } = await newTask(uniqueName("tenant_"));
    h.status.update(failed, { state: TaskState.FAILURE, error: { type: "TimeLimitExceeded", message: "hard limit 5000 ms", code: "TIME_LIMIT", retryable: false } });
    const tenantOfFailed = h.status.tasks.get(failed)!.tenant;
    const res = await requester(h.app, await token(tenantOfFailed))("GET", `/v1/tasks/${failed}/result`);
    expect(res.status).toBe(409);
    expect(await res.json() as any).toMatchObject({ error: { code: "TASK_FAILED", message: "hard limit 5000 ms", type: "TimeLimitExceeded" }, state: "FAILURE" });
  });
});

describe("cancel and retry", () => {
  it("cancels a running task (202, DELETE 200) and 409s a finished one", async () => {
    const { id, req } = await newTask(uniqueName("tenant_"));
    const res = await req("POST", `/v1/tasks/${id}/cancel`);
    expect(res.status).toBe(202);
    expect((await res.json() as any).state).toBe("REVOKED");
    const again = await req("DELETE", `/v1/tasks/${id}`);
    expect(again.status).toBe(409);
    expect((await again.json() as any).error).toMatchObject({ code: "CONFLICT", state: "REVOKED" });

    const { id: other, req: req2 } = await newTask(uniqueName("tenant_"));
    expect((await req2("DELETE", `/v1/tasks/${other}`)).status).toBe(200);
  });

  it("takes an optional JSON reason with cancel, size-limited and checked; a bad body cancels nothing", async () => {
    const tenant = uniqueName("tenant_");
    const { id } = await newTask(tenant);
    const auth = { authorization: `Bearer ${await token(tenant)}` };
    const calls = h.status.cancelReasons.length;
    const huge = await h.app.request(`/v1/tasks/${id}/cancel`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ reason: "x".repeat(2 * 1024 * 1024) }) });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as any).error.field).toBe("body");
    const bad = await h.app.request(`/v1/tasks/${id}/cancel`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{not json" });
    expect(bad.status).toBe(400);
    const badReason = await h.app.request(`/v1/tasks/${id}/cancel`, { method: "POST", headers: auth, body: JSON.stringify({ reason: 42 }) });
    expect(badReason.status).toBe(400);
    expect(((await badReason.json()) as any).error.field).toBe("reason");
    expect(h.status.cancelReasons.length).toBe(calls);
    const ok = await h.app.request(`/v1/tasks/${id}/cancel`, { method: "POST", headers: auth, body: JSON.stringify({ reason: "wrong input file" }) });
    expect(ok.status).toBe(202);
    expect(h.status.cancelReasons.at(-1)).toBe("wrong input file");
  });

  it("retries failed tasks only", async () => {
    const { id, req } = await newTask(uniqueName("tenant_"));
    const notYet = await req("POST", `/v1/tasks/${id}/retry`);
    expect(notYet.status).toBe(409);
    h.status.update(id, { state: TaskState.FAILURE, error: { type: "WorkerLost", message: "gone", code: "", retryable: true } });
    const res = await req("POST", `/v1/tasks/${id}/retry`);
    expect(res.status).toBe(202);
    expect(await res.json() as any).toMatchObject({ task_id: id, state: "PENDING", status_url: `/v1/tasks/${id}` });
  });
});

describe("lists", () => {
  it("lists the tenant's tasks with filters and a cursor; active and scheduled views", async () => {
    const tenant = uniqueName("tenant_");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await newTask(tenant)).id);
    const { id: explainId } = await newTask(tenant, "explain");
    h.status.update(ids[0], { state: TaskState.SUCCESS });
    h.status.update(ids[1], { state: TaskState.RETRY, nextAttemptAtMs: Date.now() + 5_000, attempts: 1 });
    h.status.update(ids[2], { state: TaskState.PROGRESS, attempts: 1 });
    await newTask(uniqueName("other_"));
    const req = requester(h.app, await token(tenant));

    const all = await (await req("GET", "/v1/tasks?limit=2")).json() as any;
    expect(all.tasks).toHaveLength(2);
    expect(all.next_cursor).toBeTruthy();
    const rest = await (await req("GET", `/v1/tasks?limit=2&cursor=${all.next_cursor}`)).json() as any;
    expect([...all.tasks, ...rest.tasks].map((t: { task_id: string }) => t.task_id).sort()).toEqual([...ids, explainId].sort());
    expect(rest.next_cursor).toBeNull();

    const explains = await (await req("GET", "/v1/tasks?type=explain")).json() as any;
    expect(explains.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([explainId]);
    const done = await (await req("GET", "/v1/tasks?state=success")).json() as any;
    expect(done.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([ids[0]]);
    expect((await req("GET", "/v1/tasks?state=bogus")).status).toBe(400);

    const active = await (await req("GET", "/v1/tasks/active")).json() as any;
    // Running now only: not the queued explain, nor the task waiting out a retry.
    expect(active.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([ids[2]]);

    h.scheduler.schedules.set(`${tenant}/nightly`, {
      tenant,
      name: "nightly",
      cron: "0 2 * * *",
      intervalSeconds: 0,
      timezone: "UTC",
      kind: "train_all_products",
      payload: {},
      enabled: true,
      queue: "batch",
      catchUp: "skip",
      nextFireAtMs: Date.now() + 3_600_000,
      lastFireAtMs: 0,
      createdAtMs: 1,
      updatedAtMs: 1,
      jobOptions: undefined,
    });
    const scheduled = await (await req("GET", "/v1/tasks/scheduled")).json() as any;
    expect(scheduled.schedules).toEqual([expect.objectContaining({ name: "nightly", kind: "train_all_products", cron: "0 2 * * *" })]);
    expect(scheduled.retries).toEqual([expect.objectContaining({ task_id: ids[1], attempts: 1 })]);
  });

  it("counts the tenant's tasks by state, kind and queue; ?hours bounds the recent window", async () => {
    const tenant = uniqueName("tenant_");
    const a = await newTask(tenant);
    const b = await newTask(tenant);
    const old = await newTask(tenant, "explain");
    h.status.update(a.id, { state: TaskState.SUCCESS });
    h.status.update(b.id, { state: TaskState.PROGRESS });
    h.status.update(old.id, { createdAtMs: Date.now() - 3 * 86_400_000 }); // still PENDING, three days on
    await newTask(uniqueName("other_"));
    const req = a.req;
    const before = Date.now();
    const r = (await (await req("GET", "/v1/tasks/counts")).json()) as any;
    expect(r).toEqual({
      since: expect.any(String),
      recent: { total: 2, by_state: { SUCCESS: 1, PROGRESS: 1 }, by_kind: { predict: { SUCCESS: 1, PROGRESS: 1 } } },
      unfinished: { total: 2, by_state: { PROGRESS: 1, PENDING: 1 }, by_queue: { default: { PROGRESS: 1, PENDING: 1 } } },
    });
    expect(Math.abs(Date.parse(r.since) - (before - 24 * 3_600_000))).toBeLessThan(60_000);
    const week = (await (await req("GET", "/v1/tasks/counts?hours=100")).json()) as any;
    expect(week.recent.by_kind).toEqual({ predict: { SUCCESS: 1, PROGRESS: 1 }, explain: { PENDING: 1 } });
    for (const bad of ["0", "169", "day"]) {
      const res = await req("GET", `/v1/tasks/counts?hours=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as any).error.field).toBe("hours");
    }
  });

  it("a task whose large result the list left out has its size and result_url instead of result", async () => {
    const tenant = uniqueName("tenant_");
    const { id, req } = await newTask(tenant);
    h.status.update(id, { state: TaskState.SUCCESS, omittedResultBytes: 193_000 });
    const item = ((await (await req("GET", "/v1/tasks")).json()) as any).tasks.find((t: any) => t.task_id === id);
    expect(item).toMatchObject({ state: "SUCCESS", result_omitted_bytes: 193_000, result_url: `/v1/tasks/${id}/result` });
    expect(item).not.toHaveProperty("result");
  });

  it("routes every path with Hono's RegExpRouter (a static segment beside a param one would make it fall back to TrieRouter)", async () => {
    const req = requester(h.app, await token(uniqueName("tenant_")));
    expect((await req("GET", "/v1/tasks/no-such-task")).status).toBe(404);
    // SmartRouter settles on its first router that accepts every route, at the first match.
    expect((h.app.router as { name: string }).name).toBe("SmartRouter + RegExpRouter");
  });
});
