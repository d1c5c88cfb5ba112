import { beforeAll, describe, expect, it } from "vitest";
import {
  ArtifactError,
  loadModel,
  MAX_UNKNOWN_REPORTED,
  parseCsvToFrame,
  RowValidationError,
  runPipeline,
  trainSpec,
  type ClassificationMetrics,
  type DataFrame,
  type PipelineSpec,
  type RegressionMetrics,
  type TrainResult,
} from "../src/index";
import { decodeArtifact } from "../src/artifact";
import { turnCounter } from "@millrace/testkit";
import type { ArtifactBody } from "../src/pipeline";
import { customersCsv } from "./fixtures";

/** Raw rows as a client would send them (dates as ISO strings). */
function recordsOf(frame: DataFrame): Record<string, unknown>[] {
  return Array.from({ length: frame.nRows }, (_, i) =>
    Object.fromEntries(frame.columns.map((c) => [c.name, c.type === "date" && c.values[i] !== null ? new Date(c.values[i] as number).toISOString().slice(0, 10) : c.values[i]])),
  );
}

function rowError(fn: () => unknown): RowValidationError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(RowValidationError); return e as RowValidationError; }
  throw new Error("expected RowValidationError");
}

const trainAll = (target: string, type: "linear_regression" | "logistic_regression" | "random_forest" | "neural_network", params: Record<string, unknown> = {}): PipelineSpec => {
  const s = trainSpec(target, { type, params });
  s.pipeline = s.pipeline.map((n) => (n.node_type === "split" ? { node_type: "split", input: { test_size: 0 } } : n));
  return s;
};

let frame: DataFrame;
let rows: Record<string, unknown>[];
beforeAll(() => {
  frame = parseCsvToFrame(customersCsv(250, 9));
  rows = recordsOf(frame);
});

describe("loadModel: replay on raw rows", () => {
  it("reproduces the training evaluation exactly (linear, logistic, forest)", async () => {
    const cases: [string, TrainResult][] = [
      ["spend", await runPipeline(trainAll("spend", "linear_regression"), frame)],
      ["bought", await runPipeline(trainAll("bought", "logistic_regression"), frame)],
      ["bought", await runPipeline(trainAll("bought", "random_forest", { n_estimators: 25 }), frame)],
    ];
    for (const [target, r] of cases) {
      const m = loadModel(r.artifact);
      const out = m.predict(rows);
      if (r.task === "regression") {
        const y = rows.map((x) => x[target] as number);
        const rmse = Math.sqrt(out.predictions.reduce((s: number, p, i) => s + ((p as number) - y[i]) ** 2, 0) / y.length);
        expect(rmse).toBeCloseTo((r.metrics as RegressionMetrics).rmse, 10);
      } else {
        const acc = out.predictions.filter((p, i) => p === rows[i][target]).length / rows.length;
        expect(acc).toBe((r.metrics as ClassificationMetrics).accuracy);
        const ll = -rows.reduce((s, x, i) => s + Math.log(Math.min(1 - 1e-15, Math.max(1e-15, out.probabilities![i][x[target] as string]))), 0) / rows.length;
        expect(ll).toBeCloseTo((r.metrics as ClassificationMetrics).log_loss, 10);
      }
    }
  });

  it("exposes info and size", async () => {
    const r = await runPipeline(trainSpec("bought", { type: "random_forest", params: { n_estimators: 10 } }), frame);
    const m = loadModel(r.artifact);
    expect(m.bytes).toBe(r.artifact.byteLength);
    expect(m.info).toMatchObject({ model_type: "random_forest", task: "classification", classes: ["no", "yes"], target: "bought", backend: "js", rows_test: 50 });
    expect(m.info.inputs.map((c) => c.name)).toEqual(["age", "income", "color", "city", "signup", "spend"]);
    expect(() => loadModel(new Uint8Array([1, 2, 3]))).toThrow(ArtifactError);
    const corrupt = r.artifact.slice();
    corrupt[20] ^= 0xff;
    expect(() => loadModel(corrupt)).toThrow(ArtifactError);
  });
});

describe("row validation", () => {
  let model: ReturnType<typeof loadModel>;
  beforeAll(async () => {
    const spec: PipelineSpec = {
      pipeline_name: "strict",
      pipeline: [
        { node_type: "missing_values", input: { strategy: "drop_rows", columns: ["city"] } },
        { node_type: "missing_values", input: { strategy: "mean", columns: ["income"] } },
        { node_type: "encode", input: { method: "one_hot", columns: ["color"], handle_unknown: "error" } },
        { node_type: "encode", input: { method: "one_hot", columns: ["city"] } },
        { node_type: "transform", input: { method: "log", columns: ["income"] } },
        { node_type: "model", input: { type: "decision_tree", target: "bought", features: ["age", "income", "color=red", "city=Paris", "signup"], params: { max_depth: 3 } } },
      ],
    };
    model = loadModel((await runPipeline(spec, frame)).artifact);
  });
  const ok = { age: 30, income: 50000, color: "red", city: "Paris", signup: "2023-05-01" };

  it("accepts good rows (numeric strings, imputed nulls, extra keys)", () => {
    expect(model.predict([ok, { ...ok, age: "41", income: null, extra: 1 }]).predictions).toHaveLength(2);
  });

  it("missing required column → row and column named", () => {
    const e = rowError(() => model.predict([ok, ok, { ...ok, age: undefined }]));
    expect(e).toMatchObject({ row: 2, column: "age", code: "ROW_VALIDATION", retryable: false, field: "rows[2].age" });
  });

  it("mistyped values", () => {
    expect(rowError(() => model.predict([{ ...ok, age: "thirty" }]))).toMatchObject({ row: 0, column: "age" });
    expect(rowError(() => model.predict([ok, { ...ok, color: { r: 1 } }]))).toMatchObject({ row: 1, column: "color" });
    expect(rowError(() => model.predict([ok, { ...ok, signup: "yesterday" }]))).toMatchObject({ row: 1, column: "signup" });
  });

  it("pipeline rules at prediction: drop_rows column, unknown category, transform domain", () => {
    expect(rowError(() => model.predict([{ ...ok, city: null }]))).toMatchObject({ row: 0, column: "city" });
    expect(rowError(() => model.predict([ok, { ...ok, color: "purple" }]))).toMatchObject({ row: 1, column: "color" });
    expect(rowError(() => model.predict([{ ...ok, income: -5 }]))).toMatchObject({ row: 0, column: "income" });
    // Unknown city is ignored (default handle_unknown) → all city dummies 0.
    expect(model.predict([{ ...ok, city: "Berlin" }]).predictions).toHaveLength(1);
  });

  it("inputWarnings: none for rows as trained (the target column and per-row gaps are fine)", () => {
    expect(model.inputWarnings([ok, { ...ok, bought: "yes" }])).toEqual([]);
    // income is carried by one row only: imputed where missing, but not absent.
    const { income: _income, ...noIncome } = ok;
    expect(model.inputWarnings([noIncome, ok])).toEqual([]);
  });

  it("inputWarnings: a mistyped column is both absent and unknown, and the unknown one names what it likely meant", () => {
    const { income: _income, ...noIncome } = ok;
    const rows = [{ ...noIncome, Income: 50000, customer_id: 7 }];
    // Predict still answers (the pipeline imputes income), which is why the warning matters.
    expect(model.predict(rows).predictions).toHaveLength(1);
    expect(model.inputWarnings(rows)).toEqual([
      { code: "COLUMN_ABSENT", column: "income", message: "column 'income' is absent from every instance; it was treated as missing in all of them" },
      { code: "COLUMN_UNKNOWN", column: "Income", message: "column 'Income' is not an input of the model and was ignored; did you mean 'income'?" },
      { code: "COLUMN_UNKNOWN", column: "customer_id", message: "column 'customer_id' is not an input of the model and was ignored" },
    ]);
    expect(model.inputWarnings([{ ...noIncome, incme: 1 }]).find((w) => w.column === "incme")?.message).toMatch(/did you mean 'income'\?$/);
  });

  it("inputWarnings: reports at most MAX_UNKNOWN_REPORTED unknown columns, then a count", () => {
    const wide = { ...ok, ...Object.fromEntries(Array.from({ length: MAX_UNKNOWN_REPORTED + 5 }, (_, i) => [`extra_${i}`, i])) };
    const w = model.inputWarnings([wide]);
    expect(w).toHaveLength(MAX_UNKNOWN_REPORTED + 1);
    expect(w.at(-1)).toEqual({ code: "COLUMN_UNKNOWN", column: "*", message: "5 more columns are not inputs of the model and were ignored" });
  });
});

describe("explain", () => {
  it("linear: contributions are w_j (x_j − mean_j) on transformed features and sum to the prediction", async () => {
    const r = await runPipeline(trainSpec("spend", { type: "linear_regression" }), frame);
    const m = loadModel(r.artifact);
    const body = decodeArtifact<ArtifactBody>(r.artifact);
    const coef = body.model.state.coef as Float64Array, means = body.model.state.means as Float64Array;
    const row = { age: 40, income: 65000, color: "green", city: "Nice", signup: "2023-03-03" };
    const [e] = m.explain([row]);
    const pred = m.predict([row]).predictions[0] as number;
    expect(Object.keys(e.contributions)).toEqual(r.feature_names);
    expect(Object.keys(e.contributions)).toContain("color=green");
    const sum = Object.values(e.contributions).reduce((a, b) => a + b, 0);
    expect(e.base_value + sum).toBeCloseTo(pred, 9);
    expect(e.prediction).toBe(pred);
    expect(e.output_space).toBe("value");
    // color=green is 1 for this row: its contribution is w·(1 − share of green rows in training).
    const j = r.feature_names.indexOf("color=green");
    expect(e.contributions["color=green"]).toBeCloseTo(coef[j] * (1 - means[j]), 10);
  });

  it("linear, logistic and network: an input left out, so imputed at the training mean, contributes exactly 0, and the rest still add up", async () => {
    const cases = [["spend", "linear_regression", {}], ["bought", "logistic_regression", {}], ["bought", "neural_network", { epochs: 5, hidden_layers: [8] }]] as const;
    for (const [target, type, params] of cases) {
      const r = await runPipeline(trainSpec(target, { type, params }), frame, { seed: 4 });
      const m = loadModel(r.artifact);
      // No age and no income: the mean imputer fills both, the scaler then maps them to about 1e-16.
      const row = { color: "green", city: "Nice", signup: "2023-03-03", ...(target === "spend" ? { bought: "yes" } : { spend: 120 }) };
      const [e] = m.explain([row]);
      expect(e.contributions.age).toBe(0);
      expect(e.contributions.income).toBe(0);
      // A value off the mean still counts.
      const [e40] = m.explain([{ ...row, age: 40 }]);
      expect(Math.abs(e40.contributions.age)).toBeGreaterThan(1e-6);
      expect(e.base_value + Object.values(e.contributions).reduce((a, b) => a + b, 0)).toBeCloseTo(e.output, 9);
    }
  });

  it("forest (TreeSHAP) and network (exact Shapley, 10 features) add up to the explained probability", async () => {
    const net = trainSpec("bought", { type: "neural_network", params: { epochs: 10, hidden_layers: [8] } });
    for (const [spec, space] of [[trainSpec("bought", { type: "random_forest", params: { n_estimators: 20 } }), "probability"], [net, "probability"]] as const) {
      const r = await runPipeline(spec, frame, { seed: 4 });
      const m = loadModel(r.artifact);
      const some = rows.slice(0, 5);
      const ex = m.explain(some);
      const out = m.predict(some);
      ex.forEach((e, i) => {
        expect(e.output_space).toBe(space);
        expect(e.prediction).toBe(out.predictions[i]);
        expect(e.output).toBeCloseTo(out.probabilities![i][e.class!], 9);
        expect(e.base_value + Object.values(e.contributions).reduce((a, b) => a + b, 0)).toBeCloseTo(e.output, 9);
      });
    }
  });

  it("explainInSlices gives explain's answers a slice at a time, with the event loop free in between", async () => {
    const r = await runPipeline(trainSpec("bought", { type: "random_forest", params: { n_estimators: 20 } }), frame, { seed: 4 });
    const m = loadModel(r.artifact);
    const some = rows.slice(0, 12);
    // Counts event-loop turns while the explanation runs: an all-at-once explain allows none.
    const turns = turnCounter();
    const seen: number[] = [];
    const sliced = await m.explainInSlices(some, { sliceMs: 0, onProgress: (done, total) => seen.push(done, total) });
    const turned = turns.stop();
    expect(sliced).toEqual(m.explain(some));
    expect(seen.slice(0, 4)).toEqual([1, 12, 2, 12]);
    expect(seen.at(-2)).toBe(12);
    expect(turned).toBeGreaterThanOrEqual(11);
  });

  it("explainInSlices stops between slices when aborted, and checks every row before it starts", async () => {
    const r = await runPipeline(trainSpec("bought", { type: "random_forest", params: { n_estimators: 20 } }), frame, { seed: 4 });
    const m = loadModel(r.artifact);
    const ac = new AbortController();
    let slices = 0;
    const stopped = m.explainInSlices(rows.slice(0, 10), {
      sliceMs: 0,
      signal: ac.signal,
      onProgress: () => {
        if (++slices === 2) ac.abort(new Error("cancelled by test"));
      },
    });
    await expect(stopped).rejects.toThrow("cancelled by test");
    expect(slices).toBe(2);
    // A bad last row fails at once with its own index, before any slice is explained.
    const ok = rows[0];
    let progressed = false;
    const bad = m.explainInSlices([ok, ok, ok, { ...ok, age: "thirty" }], { sliceMs: 0, onProgress: () => (progressed = true) });
    await expect(bad).rejects.toMatchObject({ row: 3, column: "age" });
    expect(progressed).toBe(false);
  });

  it("network with more than 10 features uses the sampled estimator and still adds up", async () => {
    const lines = ["y," + Array.from({ length: 12 }, (_, j) => `f${j}`).join(",")];
    for (let i = 0; i < 120; i++) {
      const xs = Array.from({ length: 12 }, (_, j) => ((i * (j + 3)) % 17) / 17);
      lines.push([xs[0] + xs[1] - xs[2] + 0.1 * xs[5], ...xs].join(","));
    }
    const r = await runPipeline(trainSpec("y", { type: "neural_network", params: { epochs: 20 } }), lines.join("\n"));
    expect(r.feature_names).toHaveLength(12);
    const m = loadModel(r.artifact);
    const row = Object.fromEntries(Array.from({ length: 12 }, (_, j) => [`f${j}`, j / 12]));
    const [e] = m.explain([row]);
    expect(e.base_value + Object.values(e.contributions).reduce((a, b) => a + b, 0)).toBeCloseTo(m.predict([row]).predictions[0] as number, 9);
  });
});

describe("serving speed", () => {
  it("predicts 10,000 rows with a 100-tree forest well under 1 s", async () => {
    const r = await runPipeline(trainSpec("bought", { type: "random_forest", params: { n_estimators: 100 } }), frame);
    const m = loadModel(r.artifact);
    const batch = Array.from({ length: 10_000 }, (_, i) => rows[i % rows.length]);
    m.predict(batch.slice(0, 100)); // warm up
    const t0 = performance.now();
    const out = m.predict(batch);
    const ms = performance.now() - t0;
    expect(out.predictions).toHaveLength(10_000);
    expect(ms).toBeLessThan(1000);
  });
});
