// GET /v1/tasks/{id}/events: Server-Sent Events for one task. The current row
// first, then each change from the status service's WatchTask stream, ending
// after a terminal state. Event name = state, data = the task JSON.
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Task } from "@millrace/contracts";
import { isTerminal, stateName } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "./context";
import { classify } from "./errors";
import { getTask, watchTask } from "./status-watch";
import { taskJson } from "./task-view";

// A client following one task longer than this reconnects (EventSource does so by itself).
const MAX_STREAM_MS = 60 * 60_000;
const KEEPALIVE_MS = 15_000;

export async function taskEvents(deps: GatewayDeps, c: Context<GatewayEnv>, taskId: string): Promise<Response> {
  const tenant = c.get("tenant");
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
      let seq = 0;
      const send = (t: Task) => stream.writeSSE({ event: stateName(t.state), data: JSON.stringify(taskJson(t)), id: String(++seq) });
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
