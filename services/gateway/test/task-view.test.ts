import { describe, expect, it } from "vitest";
import { Task, TaskState } from "@millrace/contracts";
import { resultJsonText, taskJson, taskJsonText } from "../src/task-view";

const task = (result: unknown, extra: Partial<Task> = {}): Task =>
  Task.fromPartial({
    taskId: "t-1",
    tenant: "acme",
    kind: "predict",
    queue: "default",
    state: TaskState.SUCCESS,
    attempts: 1,
    createdAtMs: 1_000,
    startedAtMs: 2_000,
    finishedAtMs: 2_500,
    expiresAtMs: 90_000,
    resultJson: result === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(result)),
    history: [{ attempt: 1, workerId: "w", startedAtMs: 2_000, finishedAtMs: 2_500, outcome: TaskState.SUCCESS }],
    ...extra,
  });

describe("task view as text (the result's JSON spliced in, not parsed again)", () => {
  const results = [
    { model: { name: "m", version: 3 }, predictions: [1.5, -2, 1e-9], note: "quote \" backslash \\ newline \n é 💧 </script>" },
    [],
    null,
    "plain string",
    42,
    Array.from({ length: 2_000 }, (_, i) => ({ row: i, y: i / 7 })),
  ];

  it.each(results.map((r, i) => [i, r] as const))("is the same document as taskJson (%#)", (_i, result) => {
    const t = task(result);
    const text = taskJsonText(t);
    expect(JSON.parse(text)).toEqual(taskJson(t));
    expect(JSON.parse(text).result).toEqual(result);
  });

  it("leaves result out when the task has none, as taskJson does", () => {
    const t = task(undefined, { state: TaskState.STARTED, finishedAtMs: 0 });
    expect(JSON.parse(taskJsonText(t))).toEqual(taskJson(t));
    expect("result" in JSON.parse(taskJsonText(t))).toBe(false);
  });

  it("shows the start_by deadline when the task has one, in both renderings", () => {
    const t = task(undefined, { state: TaskState.PENDING, startedAtMs: 0, finishedAtMs: 0, startByMs: 61_000 });
    expect(taskJson(t).start_by).toBe("1970-01-01T00:01:01.000Z");
    expect(JSON.parse(taskJsonText(t))).toEqual(taskJson(t));
    expect("start_by" in taskJson(task(undefined))).toBe(false);
  });

  it("answers /result with the task id, SUCCESS and the result", () => {
    expect(JSON.parse(resultJsonText(task({ y: [1, 2] })))).toEqual({ task_id: "t-1", state: "SUCCESS", result: { y: [1, 2] } });
    expect(JSON.parse(resultJsonText(task(undefined)))).toEqual({ task_id: "t-1", state: "SUCCESS", result: null });
  });
});
