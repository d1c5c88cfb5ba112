import type { NatsConnection } from "nats";
import { TaskEvent, TaskState } from "@millrace/contracts";
import { isTerminal, type Topology } from "@millrace/runtime";
import { applyEvent, type ProjectionOptions, type TaskRow } from "./projection";
import type { TaskStore } from "./store";
import type { ChangeFeed } from "./change-feed";

/** The task's stored events, oldest first (direct gets by subject; 2.9 has no multi-filter consumers). */
export async function storedEvents(nc: NatsConnection, topo: Topology, taskId: string, max = 1_000): Promise<TaskEvent[]> {
  // checkAPI: false skips an account-info round trip on every call.
  const jsm = await nc.jetstreamManager({ checkAPI: false });
  const subject = topo.eventSubject(taskId);
  const out: TaskEvent[] = [];
  let seq = 1;
  while (out.length < max) {
    let m;
    try {
      // next_by_subj is served by STREAM.MSG.GET since 2.9; the client's types only know it for direct gets.
      m = await jsm.streams.getMessage(topo.eventsStream, { seq, next_by_subj: subject } as never);
    } catch {
      break; // no further message on the subject
    }
    out.push(TaskEvent.decode(m.data));
    seq = m.seq + 1;
  }
  return out;
}

/**
 * The replay of a task's own subject, plus the STARTED of its last attempt
 * when a worker published that in a TaskEventBatch (it does so only for an
 * attempt whose outcome came in the same turn, with no event in between, so
 * nothing of that attempt is on the task's subject). It is rebuilt from the
 * attempt record the projection kept.
 */
export function replayEvents(stored: TaskEvent[], current: TaskRow): TaskEvent[] {
  const rec = current.history.find((h) => h.attempt === current.attempt);
  if (!rec || !rec.startedAtMs) return stored;
  const mine = (e: TaskEvent) => e.generation === current.generation && e.attempt === current.attempt;
  if (stored.some(mine)) return stored;
  const started = TaskEvent.fromPartial({
    taskId: current.taskId,
    tenant: current.tenant,
    kind: current.kind,
    queue: current.queue,
    name: current.name,
    parentId: current.parentId ?? "",
    createdAtMs: current.createdAt,
    generation: current.generation,
    attempt: current.attempt,
    seq: 1, // STARTED is an attempt's first event
    state: TaskState.STARTED,
    atMs: rec.startedAtMs,
    workerId: rec.workerId,
  });
  return [...stored, started];
}

/** Whether `a` is an earlier state of the task's run than `b` (generation, then attempt, then the attempt's event seq). */
function isBehind(a: TaskRow, b: TaskRow): boolean {
  if (a.generation !== b.generation) return a.generation < b.generation;
  if (a.attempt !== b.attempt) return a.attempt < b.attempt;
  return a.seq < b.seq;
}

/**
 * Streams a task: with `history`, first the state after each stored event (so
 * a late subscriber still sees STARTED and every PROGRESS); then the current
 * row, then every change, ending at a terminal state. Changes are signalled by
 * the core-NATS notices published after each projection commit (by whichever
 * status replica made it, received through this process's ChangeFeed), and a
 * slow re-read covers a notice lost in transit.
 */
export async function watchTask(
  nc: NatsConnection,
  topo: Topology,
  feed: ChangeFeed,
  store: TaskStore,
  tenant: string,
  taskId: string,
  emit: (row: TaskRow) => void,
  cancelled: () => boolean,
  onCancel: (fn: () => void) => void,
  projection: ProjectionOptions,
  history: boolean,
  fallbackPollMs = 2_000,
): Promise<void> {
  const sub = feed.watch(taskId);
  let timer: NodeJS.Timeout | undefined;
  onCancel(() => sub.close());
  try {
    const key = (r: TaskRow) => `${r.generation}:${r.attempt}:${r.seq}:${r.state}:${r.progress?.percent ?? ""}:${r.cancelRequested}`;
    // Rows only go forward, and so does what is sent: the replay reads the
    // event stream, which can be ahead of the projected row (events stored but
    // not yet projected, or stored while the replay ran), so a row read from
    // Postgres may be older than the last replayed state and is then not sent.
    let sent: TaskRow | undefined;
    const send = (row: TaskRow) => {
      if (sent && (key(row) === key(sent) || isBehind(row, sent))) return;
      sent = row;
      emit(row);
    };
    // Tenant check first: another tenant's task is a 404 before anything is sent.
    const current = await store.get(tenant, taskId);
    let replayed: TaskRow | undefined;
    for (const ev of history ? replayEvents(await storedEvents(nc, topo, taskId), current) : []) {
      const next = applyEvent(replayed, ev, projection);
      if (!next || next.generation !== current.generation) continue;
      replayed = next;
      if (!isTerminal(next.state)) send(next);
    }
    send(current);
    if (isTerminal(current.state)) return;
    // send() drops a row already sent or older than it, so a re-read sends only news.
    const reread = async (): Promise<boolean> => {
      const row = await store.get(tenant, taskId);
      send(row);
      return isTerminal(row.state);
    };
    timer = setInterval(() => {
      void reread().then((done) => done && sub.close(), () => sub.close());
    }, fallbackPollMs);
    for await (const _ of sub) {
      if (cancelled()) break;
      if (await reread()) break;
    }
  } finally {
    if (timer) clearInterval(timer);
    sub.close();
  }
}
