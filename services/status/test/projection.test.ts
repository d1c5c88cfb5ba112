import { describe, expect, it } from "vitest";
import { TaskState, type TaskEvent } from "@millrace/contracts";
import { applyEvent, projectBatch, type TaskRow } from "../src/projection";

const opts = { resultTtlMs: 1_000 };
let seqAt = 0;
function ev(state: TaskState, attempt: number, seq: number, extra: Partial<TaskEvent> = {}): TaskEvent {
  return {
    eventId: "",
    taskId: "t1",
    tenant: "acme",
    kind: "train",
    queue: "default",
    parentId: "",
    createdAtMs: 100,
    state,
    attempt,
    seq,
    atMs: 1_000 + ++seqAt,
    progress: undefined,
    resultJson: new Uint8Array(),
    error: undefined,
    nextAttemptAtMs: 0,
    workerId: "w1",
    name: "",
    generation: 0,
    ...extra,
  };
}

function run(events: TaskEvent[], start?: TaskRow): TaskRow {
  let row = start;
  for (const e of events) row = applyEvent(row, e, opts) ?? row;
  return row!;
}

describe("projection", () => {
  it("walks STARTED → PROGRESS → SUCCESS and records the result", () => {
    const row = run([
      ev(TaskState.STARTED, 1, 1),
      ev(TaskState.PROGRESS, 1, 2, { progress: { percent: 50, message: "half", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 } }),
      ev(TaskState.SUCCESS, 1, 3, { resultJson: Buffer.from('{"ok":true}') }),
    ]);
    expect(row.state).toBe(TaskState.SUCCESS);
    expect(row.result).toEqual({ ok: true });
    expect(row.attempt).toBe(1);
    expect(row.progress?.percent).toBe(100);
    expect(row.startedAt).not.toBeNull();
    expect(row.expiresAt).toBe(row.finishedAt! + 1_000);
    expect(row.history).toHaveLength(1);
    expect(row.history[0].outcome).toBe(TaskState.SUCCESS);
  });

  it("never lets a late STARTED overwrite SUCCESS", () => {
    const done = run([ev(TaskState.STARTED, 1, 1), ev(TaskState.SUCCESS, 1, 3)]);
    expect(applyEvent(done, ev(TaskState.STARTED, 1, 1), opts)).toBeNull();
    expect(applyEvent(done, ev(TaskState.PROGRESS, 2, 1), opts)).toBeNull();
  });

  it("ignores an older non-terminal event that arrives after a newer one", () => {
    const row = run([ev(TaskState.STARTED, 1, 1), ev(TaskState.PROGRESS, 1, 3, { progress: { percent: 60, message: "", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 } })]);
    expect(applyEvent(row, ev(TaskState.PROGRESS, 1, 2), opts)).toBeNull();
  });

  it("counts attempts across a retry and keeps the attempt history", () => {
    const row = run([
      ev(TaskState.STARTED, 1, 1),
      ev(TaskState.RETRY, 1, 2, { error: { type: "TransientError", message: "db hiccup", code: "TRANSIENT", retryable: true }, nextAttemptAtMs: 5_000 }),
      ev(TaskState.STARTED, 2, 1, { workerId: "w2" }),
      ev(TaskState.SUCCESS, 2, 2),
    ]);
    expect(row.attempt).toBe(2);
    expect(row.history.map((h) => [h.attempt, h.outcome])).toEqual([
      [1, TaskState.RETRY],
      [2, TaskState.SUCCESS],
    ]);
    expect(row.history[0].error?.message).toBe("db hiccup");
  });

  it("shows RETRY with next_attempt_at and the last error while waiting", () => {
    const row = run([ev(TaskState.STARTED, 1, 1), ev(TaskState.RETRY, 1, 2, { error: { type: "TransientError", message: "x", code: "T", retryable: true }, nextAttemptAtMs: 9_999 })]);
    expect(row.state).toBe(TaskState.RETRY);
    expect(row.nextAttemptAt).toBe(9_999);
    expect(row.error?.type).toBe("TransientError");
  });

  it("accepts a newer generation after a terminal state (manual retry)", () => {
    const failed = run([ev(TaskState.STARTED, 1, 1), ev(TaskState.FAILURE, 1, 2)]);
    const again = applyEvent(failed, ev(TaskState.STARTED, 2, 1, { generation: 1 }), opts);
    expect(again?.state).toBe(TaskState.STARTED);
    expect(again?.generation).toBe(1);
    expect(again?.finishedAt).toBeNull();
  });

  it("reports every applied step of a batch as a transition, not only each task's last row", () => {
    const transitions: TaskRow[] = [];
    const rows = projectBatch(
      new Map(),
      [
        ev(TaskState.STARTED, 1, 1),
        ev(TaskState.PROGRESS, 1, 2, { progress: { percent: 50, message: "half", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 } }),
        ev(TaskState.SUCCESS, 1, 3),
        ev(TaskState.STARTED, 1, 1), // a duplicate changes nothing and is no transition
      ],
      opts,
      transitions,
    );
    expect(rows.size).toBe(1);
    expect(transitions.map((t) => t.state)).toEqual([TaskState.STARTED, TaskState.PROGRESS, TaskState.SUCCESS]);
  });

  it("gives the same rows whatever the batch boundaries (replay safety)", () => {
    const events = [
      ev(TaskState.STARTED, 1, 1),
      ev(TaskState.STARTED, 1, 1, { taskId: "t2" }),
      ev(TaskState.PROGRESS, 1, 2),
      ev(TaskState.SUCCESS, 1, 3, { resultJson: Buffer.from("[1,2]") }),
      ev(TaskState.FAILURE, 1, 2, { taskId: "t2", error: { type: "DataError", message: "bad", code: "DATA", retryable: false } }),
      ev(TaskState.STARTED, 1, 1), // duplicate delivery
    ];
    const whole = projectBatch(new Map(), events, opts);
    let piecewise = new Map<string, TaskRow>();
    for (const e of events) {
      const out = projectBatch(piecewise, [e], opts);
      piecewise = new Map([...piecewise, ...out]);
    }
    expect([...piecewise.entries()].sort()).toEqual([...whole.entries()].sort());
    expect(whole.get("t2")?.state).toBe(TaskState.FAILURE);
  });
  it("counts a state, attempt or generation change as a transition, and not a further progress update of the same run", () => {
    const progress = (percent: number) => ({ percent, message: "", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 });
    const transitions: TaskRow[] = [];
    projectBatch(
      new Map(),
      [
        ev(TaskState.STARTED, 1, 1),
        ev(TaskState.PROGRESS, 1, 2, { progress: progress(10) }),
        ev(TaskState.PROGRESS, 1, 3, { progress: progress(50) }),
        ev(TaskState.PROGRESS, 2, 1, { progress: progress(5) }),
        // A newer generation (manual retry) whose first event carries on the attempt count.
        ev(TaskState.PROGRESS, 2, 5, { generation: 1, progress: progress(5) }),
      ],
      opts,
      transitions,
    );
    expect(transitions.map((r) => [TaskState[r.state], r.generation, r.attempt])).toEqual([
      ["STARTED", 0, 1],
      ["PROGRESS", 0, 1],
      ["PROGRESS", 0, 2],
      ["PROGRESS", 1, 2],
    ]);
  });
});
