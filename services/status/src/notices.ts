import type { NatsConnection } from "nats";
import { TaskChanged } from "@millrace/contracts";
import { isTerminal, type Topology } from "@millrace/runtime";
import { isParentKind } from "./orchestrator";
import type { TaskRow } from "./projection";
import { toTask } from "./store";

/** Finished tasks with a larger result are not carried in notices (gateways then ask). */
export const NOTICE_RESULT_MAX_BYTES = 64 * 1024;

/**
 * Publishes that a task changed, after its row was written: on
 * millrace.changed.<id>.live while it runs, .done once terminal. A done
 * notice carries the whole finished task (not for parents, whose children are
 * read on demand, nor for large results), which lets gateways answer polls of
 * finished tasks from memory. `leftTerminal` (a manual retry) also sends a
 * done notice without a task, so those caches drop the old outcome.
 */
export function announceChange(nc: NatsConnection, topo: Topology, row: TaskRow, leftTerminal = false): void {
  const terminal = isTerminal(row.state);
  let task;
  if (terminal && !isParentKind(row.kind)) {
    const t = toTask(row);
    if (t.resultJson.length <= NOTICE_RESULT_MAX_BYTES) task = t;
  }
  nc.publish(topo.changedSubject(row.taskId, terminal), TaskChanged.encode({ taskId: row.taskId, state: row.state, task }).finish());
  if (leftTerminal && !terminal) nc.publish(topo.changedSubject(row.taskId, true), TaskChanged.encode({ taskId: row.taskId, state: row.state, task: undefined }).finish());
}
