// GET /v1/tasks/{id}/events: Server-Sent Events for one task. The current row
// first, then each change from the status service's WatchTask stream, ending
// after a terminal state. Event name = state, data = the task JSON, id = where
// the task stands in its run (eventId below). A client that reconnects with
// Last-Event-ID (EventSource does, by itself) gets only what came after it, and
// 204 once it has seen the end, which tells EventSource to stop reconnecting.
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Task } from "@millrace/contracts";
import { isTerminal, stateName, ValidationError } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "./context";
import { classify } from "./errors";
import { getTask, watchTask } from "./status-watch";
import { taskJson } from "./task-view";

// A client following one task longer than this reconnects (EventSource does so by itself).
const MAX_STREAM_MS = 60 * 60_000;
const KEEPALIVE_MS = 15_000;

/**
 * `generation.attempts.seq`, and `.c` once a cancel was asked: every state a
 * task goes through has a greater one than the states before it (a manual
 * retry bumps generation, each attempt's events bump seq, a cancel request
 * changes the row without an event).
 */
export function eventId(t: Task): string {
  return `${t.generation}.${t.attempts}.${t.seq}${t.cancelRequested ? ".c" : ""}`;
}

type Position = [number, number, number, number];

function position(t: Task): Position {
  return [t.generation, t.attempts, t.seq, t.cancelRequested ? 1 : 0];
}

function parseEventId(id: string): Position {
  const m = /^(\d{1,9})\.(\d{1,9})\.(\d{1,9})(\.c)?$/.exec(id.trim());
  if (!m) throw new ValidationError("Last-Event-ID is not an event id of this stream (generation.attempts.seq)", { field: "Last-Event-ID" });
  return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] ? 1 : 0];
}

function isAfter(a: Position, b: Position): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return false;
}

export async function taskEvents(deps: GatewayDeps, c: Context<GatewayEnv>, taskId: string): Promise<Response> {
  const tenant = c.get("tenant");
  const header = c.req.header("last-event-id");
  const since = header ? parseEventId(header) : undefined;
  if (since) {
    // Seen through to the end: nothing more will come (and 404/410 still apply).
    const now = await getTask(deps.status, tenant, taskId);
    if (isTerminal(now.state) && !isAfter(position(now), since)) return c.body(null, 204);
  }
  const stop = new AbortController();
  const events = watchTask(deps.status, tenant, taskId, { timeoutMs: MAX_STREAM_MS, signals: [stop.signal, deps.shutdown, c.req.raw.signal], history: true });
  // Read the first row before any byte goes out: an unknown or expired task is
  // still a plain 404/410, not an event stream.
  const head = await events.next();
  const first: Task = head.done ? await getTask(deps.status, tenant, taskId) : head.value;

  c.header("Cache-Control", "no-cache");
  c.header("X-Accel-Buffering", "no");
  return streamSSE(
    c,
    async (stream) => {
      stream.onAbort(() => stop.abort());
      const keepalive = setInterval(() => {
        stream.write(": keepalive\n\n").catch(() => undefined);
      }, KEEPALIVE_MS);
      keepalive.unref();
      const send = async (t: Task) => {
        if (since && !isAfter(position(t), since)) return; // the client had it before it reconnected
        await stream.writeSSE({ event: stateName(t.state), data: JSON.stringify(taskJson(t)), id: eventId(t) });
      };
      try {
        await send(first);
        if (!head.done && !isTerminal(first.state)) {
          for await (const t of events) await send(t);
        }
      } finally {
        clearInterval(keepalive);
        await events.return(undefined);
      }
    },
    async (err, stream) => {
      const { body, internal } = classify(err);
      if (internal) deps.logger.error({ err, task_id: taskId }, "event stream failed");
      await stream.writeSSE({ event: "error", data: JSON.stringify(body) });
    },
  );
}
