import { afterAll, describe, expect, it } from "vitest";
import {
  HardTimeLimitError,
  loadModel,
  PipelineValidationError,
  runPipelineInThread,
  TrainingAbortedError,
  TrainingPool,
  trainSpec,
  type PipelineProgress,
} from "../src/index";
import { customersCsv } from "./fixtures";

const csv = new TextEncoder().encode(customersCsv(300));
const slowNet = trainSpec("bought", { type: "neural_network", params: { epochs: 5000, batch_size: 8 } });
const pool = new TrainingPool({ size: 1 });
afterAll(() => pool.close());

describe("training in a worker thread", () => {
  it("trains off the event loop, forwards progress, returns a loadable artifact", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const progress: PipelineProgress[] = [];
    const r = await pool.run(trainSpec("bought", { type: "neural_network", params: { epochs: 40 } }), csv, { onProgress: (p) => progress.push(p) });
    clearInterval(timer);
    expect(r.artifact).toBeInstanceOf(Uint8Array);
    expect(loadModel(r.artifact).predict([{ age: 30, income: 1, color: "red", city: "Nice", signup: "2023-01-01", spend: 100 }]).predictions).toHaveLength(1);
    expect(progress.filter((p) => /^epoch/.test(p.message)).length).toBeGreaterThan(5);
    expect(progress.at(-1)?.percent).toBe(100);
    expect(ticks).toBeGreaterThan(20); // the main loop kept running while the thread trained
    expect(r.backend).toMatch(/^(wasm|cpu|tensorflow)$/);
  });

  it("soft abort stops the thread within 1 s", async () => {
    const ac = new AbortController();
    let abortedAt = 0;
    const p = pool.run(slowNet, csv, {
      signal: ac.signal,
      onProgress: (pr) => {
        if (!abortedAt && /^epoch \d+\//.test(pr.message)) { abortedAt = performance.now(); ac.abort(); }
      },
    });
    await expect(p).rejects.toBeInstanceOf(TrainingAbortedError);
    expect(abortedAt).toBeGreaterThan(0);
    expect(performance.now() - abortedAt).toBeLessThan(1000);
    await expect(p).rejects.toMatchObject({ code: "ABORTED", retryable: false });
  });

  it("soft abort also interrupts a forest between trees", async () => {
    const ac = new AbortController();
    let abortedAt = 0;
    const p = pool.run(trainSpec("bought", { type: "random_forest", params: { n_estimators: 5000 } }), csv, {
      signal: ac.signal,
      onProgress: (pr) => { if (!abortedAt && /^tree/.test(pr.message)) { abortedAt = performance.now(); ac.abort(); } },
    });
    await expect(p).rejects.toBeInstanceOf(TrainingAbortedError);
    expect(performance.now() - abortedAt).toBeLessThan(1000);
  });

  it("hard timeout terminates the thread; the next job gets a fresh one", async () => {
    const before = pool.threadsStarted;
    const t0 = performance.now();
    await expect(pool.run(slowNet, csv, { hardTimeoutMs: 2500 })).rejects.toBeInstanceOf(HardTimeLimitError);
    expect(performance.now() - t0).toBeLessThan(4000);
    const r = await pool.run(trainSpec("bought", { type: "decision_tree" }), csv);
    expect(r.model_type).toBe("decision_tree");
    expect(pool.threadsStarted).toBe(before + 1);
  });

  it("typed errors cross the thread boundary", async () => {
    const bad = { pipeline_name: "bad", pipeline: [{ node_type: "model", input: { type: "random_forest", target: "nope" } }] };
    const err = await runPipelineInThread(bad, csv).catch((e) => e);
    expect(err).toBeInstanceOf(PipelineValidationError);
    expect(err).toMatchObject({ field: "pipeline[0].input.target", code: "PIPELINE_VALIDATION", retryable: false });
  });
});

describe("thread recycling (max-tasks-per-child)", () => {
  it("replaces the thread after maxJobsPerThread jobs and keeps serving", async () => {
    const recycling = new TrainingPool({ size: 1, maxJobsPerThread: 2 });
    try {
      const small = new TextEncoder().encode(customersCsv(60));
      for (let i = 0; i < 5; i++) await recycling.run(trainSpec("spend", { type: "linear_regression" }), small);
      // Jobs 1-2 on thread 1, 3-4 on thread 2, 5 on thread 3.
      expect(recycling.threadsStarted).toBe(3);
      expect(recycling.recycled).toBe(2);
    } finally {
      await recycling.close();
    }
  });

  it("replaces a thread whose heap grew past maxHeapMbPerThread", async () => {
    const recycling = new TrainingPool({ size: 1, maxHeapMbPerThread: 1 });
    try {
      const small = new TextEncoder().encode(customersCsv(60));
      await recycling.run(trainSpec("spend", { type: "linear_regression" }), small);
      await recycling.run(trainSpec("spend", { type: "linear_regression" }), small);
      expect(recycling.threadsStarted).toBe(2);
    } finally {
      await recycling.close();
    }
  });
});
