import { getHeapStatistics } from "node:v8";
// Worker-thread entry: runs runPipeline off the main event loop. One job at a
// time; the parent aborts through a shared Int32 flag (read synchronously
// between epochs / iterations / trees, so even a busy synchronous loop sees
// it) and terminates the thread on its hard time limit.

import { parentPort } from "node:worker_threads";
import type { BackendName } from "./backend";
import type { AbortLike } from "./errors";
import type { DataFrame } from "./frame";
import { runPipeline } from "./pipeline";

export interface RunMessage {
  type: "run";
  id: number;
  spec: unknown;
  data: DataFrame | Uint8Array | string;
  seed?: number;
  backend?: BackendName[];
  /** Int32Array(1) over a SharedArrayBuffer; 1 = abort requested. */
  abortFlag: SharedArrayBuffer;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  props: Record<string, unknown>;
}

export type ThreadMessage =
  | { type: "progress"; id: number; progress: import("./pipeline").PipelineProgress }
  | { type: "done"; id: number; result: import("./pipeline").TrainResult; heapUsed: number }
  | { type: "error"; id: number; error: SerializedError; heapUsed: number };

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err), props: {} };
  const props: Record<string, unknown> = {};
  for (const key of ["code", "retryable", "httpStatus", "field", "details", "line", "row", "column", "limitMs"]) {
    const v = (err as unknown as Record<string, unknown>)[key];
    if (v !== undefined) props[key] = v;
  }
  return { name: err.name, message: err.message, stack: err.stack, props };
}

const port = parentPort;
if (port) {
  port.on("message", async (msg: RunMessage) => {
    if (msg?.type !== "run") return;
    const flag = new Int32Array(msg.abortFlag);
    const signal: AbortLike = {
      get aborted() { return Atomics.load(flag, 0) === 1; },
    };
    try {
      const result = await runPipeline(msg.spec, msg.data, {
        seed: msg.seed,
        backend: msg.backend,
        signal,
        onProgress: (progress) => port.postMessage({ type: "progress", id: msg.id, progress } satisfies ThreadMessage),
      });
      port.postMessage({ type: "done", id: msg.id, result, heapUsed: getHeapStatistics().used_heap_size } satisfies ThreadMessage, [result.artifact.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ type: "error", id: msg.id, error: serializeError(err), heapUsed: getHeapStatistics().used_heap_size } satisfies ThreadMessage);
    }
  });
}
