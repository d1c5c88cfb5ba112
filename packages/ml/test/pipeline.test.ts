import { describe, expect, it } from "vitest";
import {
  DataError,
  loadModel,
  parseCsvToFrame,
  runNode,
  runPipeline,
  TrainingAbortedError,
  PipelineValidationError,
  trainSpec,
  type ClassificationMetrics,
  type PipelineProgress,
  type PipelineSpec,
  type RegressionMetrics,
} from "../src/index";
import { decodeArtifact } from "../src/artifact";
import type { ArtifactBody } from "../src/pipeline";
import { customersCsv } from "./fixtures";

const seedStyle = (extra: Record<string, unknown> = {}): PipelineSpec => ({
  pipeline_name: "seed-style",
  pipeline: [
    { node_type: "upload_file", input: { file_id: "f1" } },
    { node_type: "missing_values", input: { strategy: "mean", columns: ["income"] } },
    { node_type: "missing_values", input: { strategy: "most_frequent", columns: ["city"] } },
    { node_type: "encode", input: { method: "one_hot", columns: ["color", "city"] } },
    { node_type: "scale", input: { method: "standard", columns: ["age", "income"] } },
    { node_type: "split", input: { test_size: 0.25, seed: 7, stratify: true } },
    { node_type: "model", input: { type: "random_forest", target: "bought", features: undefined, params: { n_estimators: 30, max_depth: 6 }, ...extra } },
  ],
});

describe("runPipeline end to end", () => {
  it("seed-style pipeline: missing → one-hot → scale → split → random forest, deterministic and replayable", async () => {
    const csv = new TextEncoder().encode(customersCsv());
    const progress: PipelineProgress[] = [];
    const r = await runPipeline(seedStyle(), csv, { seed: 5, onProgress: (p) => progress.push(p) });
    expect(r.model_type).toBe("random_forest");
    expect(r.task).toBe("classification");
    expect(r.classes).toEqual(["no", "yes"]);
    expect(r.rows_train + r.rows_test).toBe(400);
    expect(r.rows_test).toBe(100);
    expect(r.backend).toBe("js");
    expect(r.feature_names).toEqual(["age", "income", "color=blue", "color=green", "color=red", "city=Lyon", "city=Nice", "city=Paris", "signup", "spend"]);
    const m = r.metrics as ClassificationMetrics;
    expect(m.evaluated_on).toBe("test");
    expect(m.n).toBe(100);
    expect(m.accuracy).toBeGreaterThan(0.8);
    expect(m.roc_auc).toBeGreaterThan(0.85);
    expect(m.confusion_matrix.flat().reduce((a, b) => a + b, 0)).toBe(100);
    expect(r.input_columns.map((c) => c.name)).toEqual(["age", "income", "color", "city", "signup", "spend"]);

    // Progress: monotone, ends at 100, names nodes by position.
    expect(progress.at(-1)).toMatchObject({ percent: 100, total_nodes: 7, node_type: "model" });
    for (let i = 1; i < progress.length; i++) expect(progress[i].percent).toBeGreaterThanOrEqual(progress[i - 1].percent);
    expect(progress.some((p) => p.node_type === "encode" && p.current_node === 4)).toBe(true);
    expect(progress.some((p) => /tree \d+\/30/.test(p.message))).toBe(true);

    // Same seed, same bytes.
    const again = await runPipeline(seedStyle(), csv, { seed: 5 });
    expect(Buffer.from(again.artifact).equals(Buffer.from(r.artifact))).toBe(true);

    // Replaying the artifact on the raw test rows reproduces the evaluation exactly.
    const body = decodeArtifact<ArtifactBody>(r.artifact);
    expect(body.metrics).toEqual(r.metrics);
    const frame = parseCsvToFrame(customersCsv());
    const rows = Array.from({ length: frame.nRows }, (_, i) => Object.fromEntries(frame.columns.map((c) => [c.name, c.name === "signup" ? new Date(c.values[i] as number).toISOString() : c.values[i]])));
    const model = loadModel(r.artifact);
    const out = model.predict(rows);
    expect(out.predictions).toHaveLength(400);
    const agree = out.predictions.filter((p, i) => p === rows[i].bought).length / 400;
    expect(agree).toBeGreaterThan(0.85);
  });

  it("test_size 0 evaluates on the training rows", async () => {
    const s = seedStyle();
    s.pipeline[5] = { node_type: "split", input: { test_size: 0 } };
    const r = await runPipeline(s, customersCsv(120), { seed: 1 });
    expect(r.metrics.evaluated_on).toBe("train");
    expect(r.rows_test).toBe(0);
    expect(r.rows_train).toBe(120);
  });

  it("regression with the /v1/train shortcut (impute, scale, one-hot, split 0.2)", async () => {
    const r = await runPipeline(trainSpec("spend", { type: "linear_regression" }), customersCsv(300));
    expect(r.task).toBe("regression");
    expect(r.rows_test).toBe(60);
    const m = r.metrics as RegressionMetrics;
    expect(m.evaluated_on).toBe("test");
    expect(m.r2).toBeGreaterThan(0.95);
    expect(m.rmse).toBeGreaterThan(0);
    expect(r.backend).toMatch(/^(tensorflow|wasm|cpu)$/);
    expect(r.warnings).toEqual([]);
  });

  it("every model type trains through trainSpec and round-trips through loadModel", async () => {
    const csv = customersCsv(200);
    const frame = parseCsvToFrame(csv);
    const rows = [{ age: 33, income: 41000, color: "red", city: "Lyon", signup: "2023-04-02" }, { age: 61, income: null, color: "blue", city: null, signup: "2023-08-20" }];
    for (const [type, target] of [["linear_regression", "spend"], ["logistic_regression", "bought"], ["decision_tree", "bought"], ["random_forest", "spend"], ["neural_network", "bought"]] as const) {
      const r = await runPipeline(trainSpec(target, { type, params: type === "neural_network" ? { epochs: 15 } : {} }), frame, { seed: 3 });
      const m = loadModel(r.artifact);
      expect(m.info).toMatchObject({ model_type: type, task: r.task, features: r.feature_names, target });
      expect(m.bytes).toBe(r.artifact.byteLength);
      const a = m.predict(rows), b = loadModel(r.artifact).predict(rows);
      expect(a).toEqual(b);
      if (r.task === "classification") {
        expect(a.probabilities![0].no + a.probabilities![0].yes).toBeCloseTo(1, 10);
        expect(["no", "yes"]).toContain(a.predictions[0]);
      } else expect(typeof a.predictions[0]).toBe("number");
    }
  });

  it("data errors", async () => {
    const allNull = "a,y\n1,\n2,\n";
    await expect(runPipeline(trainSpec("y", { type: "random_forest", task: "regression" }), allNull)).rejects.toBeInstanceOf(DataError);
    await expect(runPipeline(trainSpec("y", { type: "random_forest", task: "regression" }), allNull)).rejects.toThrow(/target column 'y' has no values/);
    await expect(runPipeline(trainSpec("y", { type: "random_forest" }), "a,y\n1,x\n2,x\n3,x\n")).rejects.toThrow(/single class/);
    const noImpute: PipelineSpec = { pipeline_name: "x", pipeline: [{ node_type: "model", input: { type: "decision_tree", target: "y" } }] };
    await expect(runPipeline(noImpute, "a,y\n1,p\n,q\n3,p\n4,q\n")).rejects.toThrow(/column 'a' has missing values at the model/);
    await expect(runPipeline(noImpute, "b,z\n1,p\n")).rejects.toBeInstanceOf(PipelineValidationError);
  });

  it("aborts with TrainingAbortedError", async () => {
    const ac = new AbortController();
    const spec = trainSpec("bought", { type: "random_forest", params: { n_estimators: 500 } });
    const p = runPipeline(spec, customersCsv(300), { signal: ac.signal, onProgress: (pr) => { if (/tree \d+\//.test(pr.message)) ac.abort(); } });
    await expect(p).rejects.toBeInstanceOf(TrainingAbortedError);
    const pre = new AbortController();
    pre.abort();
    await expect(runPipeline(spec, customersCsv(50), { signal: pre.signal })).rejects.toMatchObject({ code: "ABORTED" });
  });

  it("the split is drawn before fitting: preprocessing statistics come from training rows only", async () => {
    const spec: PipelineSpec = {
      pipeline_name: "leak",
      pipeline: [
        { node_type: "scale", input: { method: "standard", columns: ["age"] } },
        { node_type: "split", input: { test_size: 0.5, seed: 1 } },
        { node_type: "model", input: { type: "linear_regression", target: "spend", features: ["age"] } },
      ],
    };
    const frame = parseCsvToFrame(customersCsv(100));
    const r = await runPipeline(spec, frame);
    const body = decodeArtifact<ArtifactBody>(r.artifact);
    const center = (body.steps[0].state as unknown as { center: Record<string, number> }).center.age;
    const ages = frame.columns[0].values as number[];
    const allMean = ages.reduce((a, b) => a + b, 0) / ages.length;
    expect(center).not.toBeCloseTo(allMean, 6);
    expect(r.rows_train).toBe(50);
  });

  it("target encoding and feature selection inside a pipeline", async () => {
    const spec: PipelineSpec = {
      pipeline_name: "te",
      pipeline: [
        { node_type: "missing_values", input: { strategy: "median", columns: ["income"] } },
        { node_type: "missing_values", input: { strategy: "constant", columns: ["city"], fill_value: "unknown" } },
        { node_type: "encode", input: { method: "target", columns: ["color", "city"] } },
        { node_type: "transform", input: { method: "box_cox", columns: ["income"] } },
        { node_type: "select_features", input: { method: "f_classif", k: 3 } },
        { node_type: "split", input: { test_size: 0.2 } },
        { node_type: "model", input: { type: "logistic_regression", target: "bought", params: { C: 10 } } },
      ],
    };
    const r = await runPipeline(spec, customersCsv(300), { seed: 2 });
    expect(r.feature_names).toHaveLength(3);
    expect(r.feature_names).toContain("age");
    const m = loadModel(r.artifact);
    const out = m.predict([{ age: 50, income: 70000, color: "red", city: "Paris", signup: "2023-01-01", spend: 330 }]);
    expect(out.predictions[0]).toBe("yes");
  });
});

describe("trainSpec with the source's columns", () => {
  it("gives the mean the numeric columns and most_frequent only the others, with the same model as the defaults", async () => {
    const csv = customersCsv(200);
    const columns = parseCsvToFrame(csv).columns.map((c) => ({ name: c.name, type: c.type }));
    const spec = trainSpec("spend", { type: "linear_regression" }, { columns });
    expect(spec.pipeline.filter((n) => n.node_type === "missing_values").map((n) => n.input)).toEqual([
      { strategy: "mean", columns: ["age", "income", "signup"] },
      { strategy: "most_frequent", columns: ["color", "city", "bought"] },
    ]);
    const [explicit, defaults] = await Promise.all([runPipeline(spec, csv), runPipeline(trainSpec("spend", { type: "linear_regression" }), csv)]);
    expect(explicit.metrics).toEqual(defaults.metrics);
    const modes = (r: typeof explicit) => r.steps.find((s) => s.summary.startsWith("most_frequent"))?.summary;
    // The defaults also count the modes of numeric columns, whose gaps the mean already filled.
    expect(modes(defaults)).toMatch(/^most_frequent: age=/);
    expect(modes(explicit)).toMatch(/^most_frequent: color=\w+, city=\w+, bought=\w+$/);
  });

  it("leaves out an imputer with no columns to take", () => {
    const spec = trainSpec("y", { type: "linear_regression" }, { columns: [{ name: "x", type: "number" }, { name: "y", type: "number" }] });
    expect(spec.pipeline.filter((n) => n.node_type === "missing_values").map((n) => n.input)).toEqual([{ strategy: "mean", columns: ["x"] }]);
  });
});

describe("runNode", () => {
  it("runs a model node alone (metrics on the training rows)", async () => {
    const frame = parseCsvToFrame("x,y\n1,2.1\n2,3.9\n3,6.2\n4,7.8\n5,10.1\n");
    const r = await runNode({ node_type: "model", input: { type: "linear_regression", target: "y" } }, frame);
    expect(r.training?.metrics.evaluated_on).toBe("train");
    expect((r.training?.metrics as RegressionMetrics).r2).toBeGreaterThan(0.99);
  });

  it("returns a preview and stats of the transformed frame", async () => {
    const frame = parseCsvToFrame(customersCsv(50));
    const r = await runNode({ node_type: "encode", input: { method: "one_hot", columns: ["color"] } }, frame, { previewRows: 3 });
    expect(r.preview).toHaveLength(3);
    expect(r.columns_out.map((c) => c.name)).toContain("color=red");
    expect(r.stats.find((s) => s.name === "income")?.missing).toBeGreaterThan(0);
    expect(r.summary).toBe("one_hot: color (3 categories)");
  });

  it("says so in the summary when a node found no columns to work on", async () => {
    const frame = parseCsvToFrame("x,y\n1,2\n2,\n3,6\n");
    expect((await runNode({ node_type: "encode", input: { method: "one_hot" } }, frame, { target: "y" })).summary).toBe("one_hot: no columns to encode");
    const none = parseCsvToFrame("c,y\nred,1\nblue,2\n");
    expect((await runNode({ node_type: "missing_values", input: { strategy: "mean" } }, none, { target: "y" })).summary).toBe("mean: no columns to fill");
    expect((await runNode({ node_type: "missing_values", input: { strategy: "mean" } }, frame, { target: "y" })).summary).toBe("mean: x=2");
  });
});
