import { TaskState, type AttemptRecord, type Progress, type TaskError, type TaskEvent } from "@millrace/contracts";
import { isTerminal } from "@millrace/runtime";

/** A task row as the projection sees it (the JSON-able part of the tasks table). */
export interface TaskRow {
  taskId: string;
  tenant: string;
  kind: string;
  queue: string;
  name: string;
  state: TaskState;
  generation: number;
  attempt: number;
  seq: number;
  progress: Progress | null;
  result: unknown;
  error: TaskError | null;
  history: AttemptRecord[];
  parentId: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  nextAttemptAt: number | null;
  expiresAt: number | null;
  cancelRequested: boolean;
  /** The job's start_by: set by the submit (and a retry), never by an event. */
  startBy: number | null;
}

export interface ProjectionOptions {
  /** Results and rows expire this long after the task finishes. */
  resultTtlMs: number;
}

function cmp(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

export function rowFromEvent(ev: TaskEvent): TaskRow {
  return {
    taskId: ev.taskId,
    tenant: ev.tenant,
    kind: ev.kind,
    queue: ev.queue || "default",
    name: ev.name,
    state: TaskState.PENDING,
    generation: ev.generation,
    attempt: 0,
    seq: 0,
    progress: null,
    result: null,
    error: null,
    history: [],
    parentId: ev.parentId || null,
    createdAt: ev.createdAtMs || ev.atMs,
    startedAt: null,
    finishedAt: null,
    nextAttemptAt: null,
    expiresAt: null,
    cancelRequested: false,
    startBy: null,
  };
}

function upsertAttempt(history: AttemptRecord[], rec: Partial<AttemptRecord> & { attempt: number }): AttemptRecord[] {
  const out = history.slice();
  const i = out.findIndex((h) => h.attempt === rec.attempt);
  const merged: AttemptRecord = i >= 0 ? { ...out[i] } : { attempt: rec.attempt, workerId: "", startedAtMs: 0, finishedAtMs: 0, outcome: TaskState.STARTED, error: undefined };
  // Fields the event leaves undefined keep what the record had.
  if (rec.workerId !== undefined) merged.workerId = rec.workerId;
  if (rec.startedAtMs !== undefined) merged.startedAtMs = rec.startedAtMs;
  if (rec.finishedAtMs !== undefined) merged.finishedAtMs = rec.finishedAtMs;
  if (rec.outcome !== undefined) merged.outcome = rec.outcome;
  if (rec.error !== undefined) merged.error = rec.error;
  if (i >= 0) out[i] = merged;
  else {
    out.push(merged);
    // Attempts arrive in order almost always: sort only when this one is out of place.
    if (out.length > 1 && out[out.length - 2].attempt > merged.attempt) out.sort((a, b) => a.attempt - b.attempt);
  }
  return out;
}

/**
 * Applies one event to a row and returns the new row, or null when the event
 * changes nothing. Pure, so replaying the stream gives the same rows.
 *
 * Ordering rules: events are ordered by (generation, attempt, seq); an older
 * non-terminal event is ignored, so a late STARTED never overwrites PROGRESS;
 * a terminal row stays terminal until a newer generation (manual retry).
 */
export function applyEvent(current: TaskRow | undefined, ev: TaskEvent, opts: ProjectionOptions): TaskRow | null {
  let row = current ?? rowFromEvent(ev);
  if (ev.generation < row.generation) return null;
  if (ev.generation > row.generation) {
    // A manual retry started a new generation: the row is live again.
    row = { ...row, generation: ev.generation, state: TaskState.PENDING, seq: 0, finishedAt: null, result: null, error: null, expiresAt: null, cancelRequested: false };
  } else if (isTerminal(row.state)) {
    return null;
  }
  const terminal = isTerminal(ev.state);
  if (!terminal && cmp([ev.attempt, ev.seq], [row.attempt, row.seq]) <= 0) return null;

  const next: TaskRow = { ...row, state: ev.state };
  if (cmp([ev.attempt, ev.seq], [row.attempt, row.seq]) > 0) {
    next.attempt = ev.attempt;
    next.seq = ev.seq;
  }
  if (!next.name && ev.name) next.name = ev.name;
  switch (ev.state) {
    case TaskState.STARTED:
      next.startedAt = row.startedAt ?? ev.atMs;
      next.nextAttemptAt = null;
      next.history = upsertAttempt(row.history, { attempt: ev.attempt, workerId: ev.workerId, startedAtMs: ev.atMs, outcome: TaskState.STARTED });
      break;
    case TaskState.PROGRESS:
      next.progress = ev.progress ?? row.progress;
      next.startedAt = row.startedAt ?? ev.atMs;
      break;
    case TaskState.RETRY:
      next.error = ev.error ?? null;
      next.nextAttemptAt = ev.nextAttemptAtMs || null;
      next.history = upsertAttempt(row.history, { attempt: ev.attempt, workerId: ev.workerId || undefined, finishedAtMs: ev.atMs, outcome: TaskState.RETRY, error: ev.error });
      break;
    case TaskState.SUCCESS:
    case TaskState.FAILURE:
    case TaskState.REVOKED: {
      next.finishedAt = ev.atMs;
      next.nextAttemptAt = null;
      next.expiresAt = ev.atMs + opts.resultTtlMs;
      if (ev.state === TaskState.SUCCESS) {
        next.result = ev.resultJson.length ? JSON.parse(Buffer.from(ev.resultJson).toString("utf8")) : null;
        next.error = null;
        next.progress = { ...(row.progress ?? emptyProgress()), percent: 100, message: "done" };
      } else {
        next.error = ev.error ?? { type: ev.state === TaskState.REVOKED ? "TaskRevoked" : "TaskFailed", message: "", code: "", retryable: false };
        if (ev.resultJson.length) next.result = JSON.parse(Buffer.from(ev.resultJson).toString("utf8"));
      }
      if (ev.attempt > 0) {
        next.history = upsertAttempt(row.history, { attempt: ev.attempt, workerId: ev.workerId || undefined, finishedAtMs: ev.atMs, outcome: ev.state, error: ev.error });
      }
      if (ev.progress) next.progress = ev.progress;
      break;
    }
    default:
      break;
  }
  return next;
}

export function emptyProgress(): Progress {
  return { percent: 0, message: "", currentNode: 0, totalNodes: 0, nodeType: "", done: 0, total: 0 };
}

/** Folds a batch of events into rows, starting from what the database holds. */
export function projectBatch(existing: Map<string, TaskRow>, events: TaskEvent[], opts: ProjectionOptions, transitions?: TaskRow[]): Map<string, TaskRow> {
  const changed = new Map<string, TaskRow>();
  for (const ev of events) {
    const cur = changed.get(ev.taskId) ?? existing.get(ev.taskId);
    const next = applyEvent(cur, ev, opts);
    if (next) {
      changed.set(ev.taskId, next);
      // A batch keeps one row per task, but every step counts as a transition
      // (a fast job's STARTED and SUCCESS often share a batch). A further
      // progress update of the same run (generation and attempt, the
      // ordering key) is not one: a long training reports progress many
      // times, and each would be a log line.
      if (!cur || cur.state !== next.state || cur.generation !== next.generation || cur.attempt !== next.attempt) transitions?.push(next);
    }
  }
  return changed;
}
