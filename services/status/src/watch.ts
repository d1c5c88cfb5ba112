import type { NatsConnection, Subscription } from "nats";
import { isTerminal, type Topology } from "@millrace/runtime";
import type { TaskRow } from "./projection";
import type { TaskStore } from "./store";

/**
 * Streams a task's row: first as it is now, then after every change, ending
 * at a terminal state. Changes are signalled by core-NATS notices published
 * after each projection commit (by whichever status replica made it), and a
 * slow re-read covers a notice lost in transit.
 */
export async function watchTask(
  nc: NatsConnection,
  topo: Topology,
  store: TaskStore,
  tenant: string,
  taskId: string,
  emit: (row: TaskRow) => void,
  cancelled: () => boolean,
  onCancel: (fn: () => void) => void,
  fallbackPollMs = 2_000,
): Promise<void> {
  const sub: Subscription = nc.subscribe(topo.changedOf(taskId));
  let timer: NodeJS.Timeout | undefined;
  onCancel(() => sub.unsubscribe());
  try {
    let last = await store.get(tenant, taskId);
    emit(last);
    if (isTerminal(last.state)) return;
    const key = (r: TaskRow) => `${r.generation}:${r.attempt}:${r.seq}:${r.state}:${r.progress?.percent ?? ""}:${r.cancelRequested}`;
    const reread = async (): Promise<boolean> => {
      const row = await store.get(tenant, taskId);
      if (key(row) !== key(last)) {
        last = row;
        emit(row);
      }
      return isTerminal(row.state);
    };
    timer = setInterval(() => {
      void reread().then((done) => done && sub.unsubscribe(), () => sub.unsubscribe());
    }, fallbackPollMs);
    for await (const _ of sub) {
      if (cancelled()) break;
      if (await reread()) break;
    }
  } finally {
    if (timer) clearInterval(timer);
    sub.unsubscribe();
  }
}
