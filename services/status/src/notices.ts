import type { NatsConnection } from "nats";
import { Task, TaskChangedBatch, encodeMessage, type TaskState } from "@millrace/contracts";
import { isTerminal, type Topology } from "@millrace/runtime";
import { isParentKind } from "./orchestrator";
import type { TaskRow } from "./projection";
import { toTask } from "./store";

/** Finished tasks with a larger result are not carried in notices (gateways then ask). */
export const NOTICE_RESULT_MAX_BYTES = 64 * 1024;
/** A commit's notices are split so each message stays well under NATS's max_payload (1 MB by default). */
export const NOTICE_BATCH_MAX_BYTES = 256 * 1024;

const NONE = new Uint8Array(0);

/**
 * Publishes that rows changed, after they were written: one TaskChangedBatch
 * on millrace.changed.batch for all of them (more only past
 * NOTICE_BATCH_MAX_BYTES). A terminal row carries the whole finished task
 * (not for parents, whose children are read on demand, nor for large
 * results), which lets gateways answer polls of finished tasks from memory;
 * any other change tells them to forget what they held (a manual retry).
 */
export function announceChanges(nc: NatsConnection, topo: Topology, rows: Iterable<TaskRow>): void {
  let taskIds: string[] = [];
  let states: TaskState[] = [];
  let finished: Uint8Array[] = [];
  let bytes = 0;
  const flush = () => {
    if (!taskIds.length) return;
    nc.publish(topo.changedBatch, encodeMessage(TaskChangedBatch, { taskIds, states, finished }));
    taskIds = [];
    states = [];
    finished = [];
    bytes = 0;
  };
  for (const row of rows) {
    let task = NONE;
    if (isTerminal(row.state) && !isParentKind(row.kind)) {
      const t = toTask(row);
      if (t.resultJson.length <= NOTICE_RESULT_MAX_BYTES) task = encodeMessage(Task, t);
    }
    if (taskIds.length && bytes + task.length > NOTICE_BATCH_MAX_BYTES) flush();
    taskIds.push(row.taskId);
    states.push(row.state);
    finished.push(task);
    bytes += task.length + row.taskId.length + 8;
  }
  flush();
}
