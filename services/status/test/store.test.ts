// TaskStore.writeOverPending against real Postgres: rows projected from no
// row are written only over the PENDING row a submit inserts (or no row).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Job, TaskState, type TaskEvent } from "@millrace/contracts";
import { ManualClock } from "@millrace/runtime";
import { insertPending } from "@millrace/submissions";
import { dbFixture, type DbFixture } from "@millrace/testkit";
import { projectBatch } from "../src/projection";
import { TaskStore } from "../src/store";

const opts = { resultTtlMs: 86_400_000 };
const T0 = 1_790_000_000_000;

function job(taskId: string, over: Partial<Job> = {}): Job {
  return Job.fromPartial({ taskId, tenant: "acme", kind: "predict", queue: "default", createdAtMs: T0, name: "m", generation: 0, attemptBase: 0, ...over });
}

function life(j: Job): TaskEvent[] {
  const base = { eventId: "", taskId: j.taskId, tenant: j.tenant, kind: j.kind, queue: j.queue, parentId: j.parentId, createdAtMs: j.createdAtMs, name: j.name, generation: j.generation, workerId: "w1", nextAttemptAtMs: 0 };
  return [
    { ...base, state: TaskState.STARTED, attempt: 1, seq: 1, atMs: T0 + 10, progress: undefined, resultJson: new Uint8Array(), error: undefined },
    { ...base, state: TaskState.SUCCESS, attempt: 1, seq: 2, atMs: T0 + 20, progress: undefined, resultJson: Buffer.from('{"y":[1]}'), error: undefined },
  ];
}

describe("TaskStore.writeOverPending (real Postgres)", () => {
  let db: DbFixture;
  let store: TaskStore;
  beforeAll(async () => {
    db = await dbFixture();
    store = new TaskStore(db.pool, new ManualClock(T0 + 30));
  });
  afterAll(async () => db?.cleanup());

  const row = async (id: string) => (await db.pool.query("select state, cancel_requested, name, history, started_at from tasks where task_id = $1", [id])).rows[0];

  it("writes over a submitted PENDING row or no row, and leaves every other row for the locked path", async () => {
    const plain = job("wp-plain", { startByMs: T0 + 60_000 });
    const absent = job("wp-absent");
    const cancelled = job("wp-cancelled");
    const started = job("wp-started");
    const renamed = job("wp-renamed");
    const later = job("wp-later");
    // The rows a submit writes (the gateway's own insert).
    await insertPending(db.pool, [plain, cancelled, started, renamed, later].map((j) => ({ job: j })), T0);
    await db.pool.query("update tasks set cancel_requested = true where task_id = 'wp-cancelled'");
    await db.pool.query("update tasks set state = 'STARTED', attempt = 1, seq = 1, started_at = to_timestamp($1 / 1000.0) where task_id = 'wp-started'", [T0 + 5]);
    await db.pool.query("update tasks set name = 'other' where task_id = 'wp-renamed'");
    await db.pool.query("update tasks set created_at = created_at + interval '1 ms' where task_id = 'wp-later'");

    const rows = projectBatch(new Map(), [plain, absent, cancelled, started, renamed, later].flatMap(life), opts);
    const applied = await store.writeOverPending(db.pool, [...rows.values()]);

    expect([...applied.keys()].sort()).toEqual(["wp-absent", "wp-plain"]);
    // The submit's start_by survives the write and comes back for the change notices; no row, none.
    expect(applied.get("wp-plain")).toBe(T0 + 60_000);
    expect(applied.get("wp-absent")).toBeNull();
    for (const id of ["wp-plain", "wp-absent"]) {
      const r = await row(id);
      expect(r.state).toBe("SUCCESS");
      expect(r.history).toEqual([expect.objectContaining({ attempt: 1, workerId: "w1", startedAtMs: T0 + 10, finishedAtMs: T0 + 20, outcome: TaskState.SUCCESS })]);
    }
    // Untouched: the real row matters for these (a cancel, a run under way, a different identity).
    expect(await row("wp-cancelled")).toMatchObject({ state: "PENDING", cancel_requested: true });
    expect(await row("wp-started")).toMatchObject({ state: "STARTED", started_at: new Date(T0 + 5) });
    expect(await row("wp-renamed")).toMatchObject({ state: "PENDING", name: "other" });
    expect((await row("wp-later")).state).toBe("PENDING");
  });

  it("writes nothing for an empty batch and is a no-op the second time", async () => {
    expect((await store.writeOverPending(db.pool, [])).size).toBe(0);
    const j = job("wp-twice");
    await insertPending(db.pool, [{ job: j }], T0);
    const rows = [...projectBatch(new Map(), life(j), opts).values()];
    expect([...(await store.writeOverPending(db.pool, rows)).keys()]).toEqual(["wp-twice"]);
    // Now SUCCESS: no longer the submitted row, so a replay of the same events is not written here.
    expect((await store.writeOverPending(db.pool, rows)).size).toBe(0);
  });
});
