// Runs pipelines in worker threads so training never blocks the caller's event
// loop. Soft abort: a shared flag the worker polls between units of work, then
// terminate() if it has not stopped within the grace period. Hard timeout:
// terminate() at once and reject with HardTimeLimitError; the next job gets a
// fresh thread.

import { Worker } from "node:worker_threads";
import type { BackendName } from "./backend";
import {
  ArtifactError,
  CsvFormatError,
  DataError,
  HardTimeLimitError,
  MlError,
  PipelineValidationError,
  RowValidationError,
  TrainingAbortedError,
} from "./errors";
import type { DataFrame } from "./frame";
import type { PipelineProgress, TrainResult } from "./pipeline";
import type { RunMessage, SerializedError, ThreadMessage } from "./train-thread";

export interface ThreadRunOptions {
  onProgress?: (p: PipelineProgress) => void;
  /** Soft abort: the thread stops at its next checkpoint and the call rejects with TrainingAbortedError. */
  signal?: AbortSignal;
  /** Terminate the thread after this many ms and reject with HardTimeLimitError. */
  hardTimeoutMs?: number;
  /** After a soft abort, terminate the thread if it has not stopped within this many ms (default 5000). */
  abortGraceMs?: number;
  seed?: number;
  backend?: BackendName[];
}

export interface TrainingPoolOptions {
  /** Concurrent training threads (default 1). Further jobs queue. */
  size?: number;
  /** Passed to each Worker (e.g. { maxOldGenerationSizeMb: 4096 }). */
  resourceLimits?: import("node:worker_threads").ResourceLimits;
  /** Replace a thread after it ran this many jobs (like Celery's max-tasks-per-child). */
  maxJobsPerThread?: number;
  /** Replace a thread whose heap exceeds this after a job (like max-memory-per-child). */
  maxHeapMbPerThread?: number;
}

const ERROR_TYPES: Record<string, new (...args: never[]) => Error> = {
  CsvFormatError,
  PipelineValidationError,
  RowValidationError,
  DataError,
  TrainingAbortedError,
  HardTimeLimitError,
  ArtifactError,
  MlError,
};

/** Rebuilds a typed error from the worker (instanceof and fields preserved). */
function reviveError(e: SerializedError): Error {
  const Ctor = ERROR_TYPES[e.name] ?? Error;
  const err = Object.create(Ctor.prototype) as Error;
  Object.defineProperty(err, "message", { value: e.message, writable: true, configurable: true });
  Object.defineProperty(err, "name", { value: e.name, writable: true, configurable: true });
  if (e.stack) Object.defineProperty(err, "stack", { value: e.stack, writable: true, configurable: true });
  Object.assign(err, e.props);
  return err;
}

/**
 * Where the worker starts. From TypeScript sources the thread boots through
 * train-thread.boot.mjs, which loads train-thread.ts with tsx's API (Node 20
 * ignores `--import tsx` in a worker's execArgv); compiled JS starts directly.
 */
function workerEntry(): { url: URL; workerData?: { entry: string } } {
  if (!import.meta.url.split("?")[0].endsWith(".ts")) return { url: new URL("./train-thread.js", import.meta.url) };
  return {
    url: new URL("./train-thread.boot.mjs", import.meta.url),
    workerData: { entry: new URL("./train-thread.ts", import.meta.url).href },
  };
}

interface Job {
  id: number;
  spec: unknown;
  data: DataFrame | Uint8Array | string;
  opts: ThreadRunOptions;
  resolve: (r: TrainResult) => void;
  reject: (e: unknown) => void;
}

class Slot {
  readonly worker: Worker;
  job: Job | null = null;
  dead = false;
  jobsRun = 0;
  lastHeapUsed = 0;
  private cleanup: (() => void) | null = null;

  constructor(resourceLimits: TrainingPoolOptions["resourceLimits"], private readonly onFree: (slot: Slot) => void) {
    const { url, workerData } = workerEntry();
    // execArgv: [] so the parent's flags (e.g. a test runner's loaders) do not leak into the thread.
    this.worker = new Worker(url, { workerData, execArgv: [], resourceLimits });
    this.worker.unref();
    this.worker.on("message", (m: ThreadMessage) => this.onMessage(m));
    this.worker.on("error", (err) => this.fail(err));
    this.worker.on("exit", (code) => {
      this.dead = true;
      if (this.job) this.fail(new Error(`training thread exited unexpectedly (code ${code})`));
    });
  }

  run(job: Job): void {
    this.job = job;
    const flagBuf = new SharedArrayBuffer(4);
    const flag = new Int32Array(flagBuf);
    const timers: NodeJS.Timeout[] = [];
    const { signal, hardTimeoutMs, abortGraceMs = 5000 } = job.opts;
    const onAbort = () => {
      Atomics.store(flag, 0, 1);
      timers.push(setTimeout(() => this.kill(new TrainingAbortedError("training aborted (thread terminated after the grace period)")), abortGraceMs));
    };
    if (hardTimeoutMs !== undefined) timers.push(setTimeout(() => this.kill(new HardTimeLimitError(hardTimeoutMs)), hardTimeoutMs));
    signal?.addEventListener("abort", onAbort, { once: true });
    this.cleanup = () => {
      timers.forEach(clearTimeout);
      signal?.removeEventListener("abort", onAbort);
    };
    this.worker.ref();
    const msg: RunMessage = { type: "run", id: job.id, spec: job.spec, data: job.data, seed: job.opts.seed, backend: job.opts.backend, abortFlag: flagBuf };
    this.worker.postMessage(msg);
  }

  private onMessage(m: ThreadMessage): void {
    const job = this.job;
    if (!job || m.id !== job.id) return;
    if (m.type === "progress") {
      try { job.opts.onProgress?.(m.progress); } catch { /* a throwing listener must not kill the job */ }
      return;
    }
    this.jobsRun += 1;
    this.lastHeapUsed = m.heapUsed;
    this.finish();
    if (m.type === "done") job.resolve(m.result);
    else job.reject(reviveError(m.error));
  }

  private finish(): void {
    this.cleanup?.();
    this.cleanup = null;
    this.job = null;
    this.worker.unref();
    this.onFree(this);
  }

  private fail(err: unknown): void {
    const job = this.job;
    this.dead = true;
    if (!job) return;
    this.finish();
    job.reject(err);
  }

  /** Terminates the thread and rejects the running job with `err`. */
  kill(err: Error): void {
    const job = this.job;
    this.dead = true;
    void this.worker.terminate();
    if (!job) return;
    this.finish();
    job.reject(err);
  }

  terminate(): Promise<number> {
    this.dead = true;
    return this.worker.terminate();
  }
}

export class TrainingPool {
  private readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private started = 0;

  constructor(private readonly opts: TrainingPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? 1);
  }

  /** Runs runPipeline(spec, data) in a pool thread. */
  run(spec: unknown, data: DataFrame | Uint8Array | string, opts: ThreadRunOptions = {}): Promise<TrainResult> {
    if (this.closed) return Promise.reject(new Error("TrainingPool is closed"));
    if (opts.signal?.aborted) return Promise.reject(new TrainingAbortedError());
    return new Promise<TrainResult>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, spec, data, opts, resolve, reject });
      this.pump();
    });
  }

  /** Threads started so far (a hard timeout replaces its thread). */
  get threadsStarted(): number {
    return this.started;
  }

  get stats(): { threads: number; busy: number; queued: number; started: number } {
    return { threads: this.slots.length, busy: this.slots.filter((s) => s.job).length, queued: this.queue.length, started: this.started };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error("TrainingPool closed"));
    await Promise.all(this.slots.splice(0).map((s) => s.terminate()));
  }

  /** Threads replaced by recycling (max jobs or heap per thread). */
  recycled = 0;

  private recycle(slot: Slot): void {
    const tooMany = this.opts.maxJobsPerThread !== undefined && slot.jobsRun >= this.opts.maxJobsPerThread;
    const tooBig = this.opts.maxHeapMbPerThread !== undefined && slot.lastHeapUsed > this.opts.maxHeapMbPerThread * 1024 * 1024;
    if (!slot.dead && !slot.job && (tooMany || tooBig)) {
      slot.dead = true;
      this.recycled += 1;
      void slot.worker.terminate();
    }
  }

  private pump(): void {
    for (const s of this.slots) this.recycle(s);
    for (let i = this.slots.length - 1; i >= 0; i--) if (this.slots[i].dead && !this.slots[i].job) this.slots.splice(i, 1);
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.job && !s.dead);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = new Slot(this.opts.resourceLimits, () => this.pump());
        this.started++;
        this.slots.push(slot);
      }
      const job = this.queue.shift()!;
      // A job aborted while queued never reaches a thread.
      if (job.opts.signal?.aborted) { job.reject(new TrainingAbortedError()); continue; }
      slot.run(job);
    }
  }
}

/** One-shot helper: a fresh thread for this run, terminated afterwards. */
export async function runPipelineInThread(spec: unknown, data: DataFrame | Uint8Array | string, opts: ThreadRunOptions = {}): Promise<TrainResult> {
  const pool = new TrainingPool({ size: 1 });
  try {
    return await pool.run(spec, data, opts);
  } finally {
    await pool.close();
  }
}
