import { describe, expect, it } from "vitest";
import { Job, Task, TaskEvent, TaskState, encodeMessage, type Encodable } from "../src/index";

const event = (taskId: string, result: string) =>
  TaskEvent.fromPartial({ taskId, tenant: "acme", kind: "predict", state: TaskState.SUCCESS, attempt: 1, seq: 2, atMs: 1_700_000_000_000, resultJson: new TextEncoder().encode(result) });

describe("encodeMessage (one reused writer)", () => {
  it("gives the same bytes as a fresh writer, for messages of growing and shrinking size", () => {
    for (const ev of [event("a", "{}"), event("b", JSON.stringify({ predictions: Array(500).fill(1.5) })), event("c", "[1]")]) {
      expect(Buffer.from(encodeMessage(TaskEvent, ev))).toEqual(Buffer.from(TaskEvent.encode(ev).finish()));
      expect(TaskEvent.decode(encodeMessage(TaskEvent, ev))).toEqual(ev);
    }
    const job = Job.fromPartial({ taskId: "j1", tenant: "acme", kind: "train", queue: "default" });
    expect(Job.decode(encodeMessage(Job, job))).toEqual(job);
    const task = Task.fromPartial({ taskId: "t1", tenant: "acme", state: TaskState.SUCCESS, history: [{ attempt: 1, workerId: "w" }] });
    expect(Task.decode(encodeMessage(Task, task))).toEqual(task);
  });

  it("returns bytes of the caller's own: a later encode does not change an earlier result", () => {
    const first = encodeMessage(TaskEvent, event("first", '{"x":1}'));
    const copy = Buffer.from(first);
    encodeMessage(TaskEvent, event("second-and-longer", '{"y":22222222}'));
    expect(Buffer.from(first)).toEqual(copy);
  });

  it("starts clean after an encode that threw part-way", () => {
    const broken: Encodable<unknown> = {
      encode(_m, w) {
        w!.uint32(10).string("half a message");
        throw new Error("boom");
      },
    };
    expect(() => encodeMessage(broken, {})).toThrow("boom");
    const ev = event("after", "{}");
    expect(Buffer.from(encodeMessage(TaskEvent, ev))).toEqual(Buffer.from(TaskEvent.encode(ev).finish()));
  });
});
