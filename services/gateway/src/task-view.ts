// The JSON users see for a task: snake_case, ISO timestamps, the result parsed
// from the status service's JSON bytes.
import type { Progress, Task, TaskError } from "@millrace/contracts";
import { isoTime, stateName } from "@millrace/runtime";

export interface TaskLinks {
  status_url: string;
  result_url: string;
  cancel_url: string;
  events_url: string;
}

export function taskLinks(taskId: string): TaskLinks {
  const base = `/v1/tasks/${taskId}`;
  return { status_url: base, result_url: `${base}/result`, cancel_url: `${base}/cancel`, events_url: `${base}/events` };
}

/** A timestamp field of the API: ISO text, or null for 0 (not yet). */
export const iso = (ms: number): string | null => (ms > 0 ? isoTime(ms) : null);

function progressJson(p: Progress | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { percent: p?.percent ?? 0, message: p?.message ?? "" };
  if (!p) return out;
  if (p.totalNodes > 0) {
    out.current_node = p.currentNode;
    out.total_nodes = p.totalNodes;
    if (p.nodeType) out.node_type = p.nodeType;
  }
  if (p.total > 0) {
    out.done = p.done;
    out.total = p.total;
  }
  return out;
}

export function errorJson(e: TaskError | undefined): Record<string, unknown> | undefined {
  if (!e || (!e.type && !e.message)) return undefined;
  const out: Record<string, unknown> = { type: e.type || "Error", message: e.message };
  if (e.code) out.code = e.code;
  out.retryable = e.retryable;
  return out;
}

function resultText(bytes: Uint8Array | undefined): string | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

function parseResult(bytes: Uint8Array | undefined): unknown {
  const text = resultText(bytes);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Headers of an answer whose body is JSON text built here (c.body rather than c.json). */
export const JSON_TYPE = { "Content-Type": "application/json" };

export interface TaskViewOptions {
  /** Include the per-attempt history (GET one task: yes; lists: no). */
  history?: boolean;
  /** Include the parsed result (default yes; taskJsonText splices it in instead). */
  result?: boolean;
}

/**
 * taskJson(t) as JSON text, with the result's bytes spliced in as they are
 * rather than parsed and serialized again: a poll of a task whose result is
 * 10,000 predictions no longer costs the gateway a parse and a stringify of
 * them. The bytes are JSON.stringify output by construction (the status
 * service writes them from the stored jsonb), so they are valid JSON.
 */
export function taskJsonText(t: Task): string {
  const text = JSON.stringify(taskJson(t, { history: true, result: false }));
  const result = resultText(t.resultJson);
  return result === undefined ? text : `${text.slice(0, -1)},"result":${result}}`;
}

/** The /result answer of a task that succeeded, the same way. */
export function resultJsonText(t: Task): string {
  return `{"task_id":${JSON.stringify(t.taskId)},"state":"SUCCESS","result":${resultText(t.resultJson) ?? "null"}}`;
}

export function taskJson(t: Task, opts: TaskViewOptions = { history: true }): Record<string, unknown> {
  const state = stateName(t.state);
  const out: Record<string, unknown> = {
    task_id: t.taskId,
    type: t.kind,
    state,
    progress: progressJson(t.progress),
    attempts: t.attempts,
    queue: t.queue,
    created_at: iso(t.createdAtMs),
    started_at: iso(t.startedAtMs),
    finished_at: iso(t.finishedAtMs),
    duration_ms: t.finishedAtMs > 0 && t.startedAtMs > 0 ? t.finishedAtMs - t.startedAtMs : null,
  };
  if (t.name) out.name = t.name;
  if (opts.result !== false) {
    const result = parseResult(t.resultJson);
    if (result !== undefined) out.result = result;
  }
  // A list left a large result out: say so, and where it is.
  if (t.omittedResultBytes > 0) {
    out.result_omitted_bytes = t.omittedResultBytes;
    out.result_url = `/v1/tasks/${t.taskId}/result`;
  }
  const error = errorJson(t.error);
  if (error) out.error = error;
  if (t.nextAttemptAtMs > 0) out.next_attempt_at = iso(t.nextAttemptAtMs);
  if (t.parentId) out.parent_id = t.parentId;
  if (t.children.length) out.children = t.children;
  if (t.cancelRequested) out.cancel_requested = true;
  if (t.expiresAtMs > 0) out.expires_at = iso(t.expiresAtMs);
  if (t.startByMs > 0) out.start_by = iso(t.startByMs);
  if (opts.history && t.history.length) {
    out.history = t.history.map((h) => ({
      attempt: h.attempt,
      worker_id: h.workerId || undefined,
      started_at: iso(h.startedAtMs),
      finished_at: iso(h.finishedAtMs),
      outcome: stateName(h.outcome),
      error: errorJson(h.error),
    }));
  }
  return out;
}
