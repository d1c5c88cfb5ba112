import { describe, expect, it } from "vitest";
import { MODEL_TYPES, NODE_TYPES, PipelineValidationError, trainSpec, validatePipeline, type ColumnSchema } from "../src/index";

const schema: ColumnSchema[] = [
  { name: "age", type: "integer" },
  { name: "income", type: "number" },
  { name: "color", type: "category" },
  { name: "notes", type: "text" },
  { name: "label", type: "category" },
  { name: "price", type: "number" },
];

const model = (input: Record<string, unknown> = {}) => ({ node_type: "model", input: { type: "random_forest", target: "label", ...input } });
const spec = (...pipeline: unknown[]) => ({ pipeline_name: "p", pipeline });

function fieldOf(fn: () => unknown): string {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(PipelineValidationError);
    expect((e as PipelineValidationError).code).toBe("PIPELINE_VALIDATION");
    expect((e as PipelineValidationError).retryable).toBe(false);
    return (e as PipelineValidationError).field;
  }
  throw new Error("expected a PipelineValidationError");
}

describe("validatePipeline (schema only)", () => {
  it("accepts a full pipeline and returns the plan", () => {
    const plan = validatePipeline(spec(
      { node_type: "dataset", input: { dataset_id: "d1" } },
      { node_type: "missing_values", input: { strategy: "mean" } },
      { node_type: "missing_values", input: { strategy: "most_frequent", columns: ["color"] } },
      { node_type: "encode", input: { method: "one_hot", columns: ["color"] } },
      { node_type: "scale", input: { method: "standard", columns: ["age", "color=red"] } },
      { node_type: "split", input: { test_size: 0.25, seed: 1 } },
      model({ params: { n_estimators: 10 } }),
    ), schema);
    expect(plan.task).toBe("classification");
    expect(plan.model.modelParams).toMatchObject({ n_estimators: 10, bootstrap: true });
    expect(plan.split?.params).toMatchObject({ test_size: 0.25, seed: 1 });
    expect(plan.warnings).toEqual(["column 'notes' (text) is not encoded and will be ignored by the model"]);
    expect(plan.output_schema).toContainEqual({ name: "color=*", type: "integer" });
  });

  it("unknown node type", () => {
    expect(fieldOf(() => validatePipeline(spec({ node_type: "normalize" }, model()), schema))).toBe("pipeline[0].node_type");
  });

  it("model must be last and present", () => {
    expect(fieldOf(() => validatePipeline(spec(model(), { node_type: "scale", input: { method: "standard" } }), schema))).toBe("pipeline[0].node_type");
    expect(fieldOf(() => validatePipeline(spec({ node_type: "scale", input: { method: "standard" } }), schema))).toBe("pipeline[0].node_type");
    expect(fieldOf(() => validatePipeline(spec({ node_type: "split" }, { node_type: "split" }, model()), schema))).toBe("pipeline[1].node_type");
    expect(fieldOf(() => validatePipeline(spec({ node_type: "split" }, { node_type: "dataset", input: { dataset_id: "x" } }, model()), schema))).toBe("pipeline[1].node_type");
  });

  it("missing column names the exact array element", () => {
    const s = spec(
      { node_type: "missing_values", input: { strategy: "mean" } },
      { node_type: "encode", input: { method: "one_hot", columns: ["color"] } },
      { node_type: "transform", input: { method: "log", columns: ["income"] } },
      { node_type: "scale", input: { method: "minmax", columns: ["age", "colour"] } },
      model(),
    );
    const f = fieldOf(() => validatePipeline(s, schema));
    expect(f).toBe("pipeline[3].input.columns[1]");
    expect(() => validatePipeline(s, schema)).toThrow("pipeline[3].input.columns[1]: column 'colour' does not exist at this point of the pipeline");
  });

  it("a column consumed by one-hot is gone afterwards; its generated columns are accepted", () => {
    const after = (cols: string[]) => spec({ node_type: "encode", input: { method: "one_hot", columns: ["color"] } }, { node_type: "scale", input: { method: "standard", columns: cols } }, model());
    expect(fieldOf(() => validatePipeline(after(["color"]), schema))).toBe("pipeline[1].input.columns[0]");
    expect(() => validatePipeline(after(["color=blue"]), schema)).not.toThrow();
  });

  it("target missing, target used as a feature, wrong task for the target", () => {
    expect(fieldOf(() => validatePipeline(spec(model({ target: "nope" })), schema))).toBe("pipeline[0].input.target");
    expect(fieldOf(() => validatePipeline(spec(model({ target: undefined })), schema))).toBe("pipeline[0].input.target");
    expect(fieldOf(() => validatePipeline(spec({ node_type: "scale", input: { method: "standard", columns: ["price"] } }, model({ target: "price" })), schema))).toBe("pipeline[0].input.columns[0]");
    expect(fieldOf(() => validatePipeline(spec(model({ type: "linear_regression" })), schema))).toBe("pipeline[0].input.target");
    expect(fieldOf(() => validatePipeline(spec(model({ type: "logistic_regression", task: "regression", target: "price" })), schema))).toBe("pipeline[0].input.task");
  });

  it("bad params: enum, range, type, unknown key, per-model params", () => {
    expect(fieldOf(() => validatePipeline(spec({ node_type: "scale", input: { method: "zscore" } }, model()), schema))).toBe("pipeline[0].input.method");
    expect(fieldOf(() => validatePipeline(spec({ node_type: "split", input: { test_size: 1.5 } }, model()), schema))).toBe("pipeline[0].input.test_size");
    expect(fieldOf(() => validatePipeline(spec({ node_type: "select_features", input: { method: "chi2", k: "3" } }, model()), schema))).toBe("pipeline[0].input.k");
    expect(fieldOf(() => validatePipeline(spec({ node_type: "scale", input: { method: "standard", colums: ["age"] } }, model()), schema))).toBe("pipeline[0].input.colums");
    expect(fieldOf(() => validatePipeline(spec(model({ params: { n_estimators: 0 } })), schema))).toBe("pipeline[0].input.params.n_estimators");
    expect(fieldOf(() => validatePipeline(spec(model({ params: { learning_rate: 0.1 } })), schema))).toBe("pipeline[0].input.params.learning_rate");
    expect(fieldOf(() => validatePipeline(spec(model({ type: "neural_network", params: { hidden_layers: [8, 0] } })), schema))).toBe("pipeline[0].input.params.hidden_layers");
    expect(fieldOf(() => validatePipeline(spec(model({ params: { max_features: "half" } })), schema))).toBe("pipeline[0].input.params.max_features");
    expect(fieldOf(() => validatePipeline(spec(model({ params: { criterion: "squared_error" } })), schema))).toBe("pipeline[0].input.params.criterion");
    expect(fieldOf(() => validatePipeline(spec({ node_type: "missing_values", input: { strategy: "mean", columns: ["color"] } }, model()), schema))).toBe("pipeline[0].input.columns[0]");
  });

  it("task-dependent checks", () => {
    expect(fieldOf(() => validatePipeline(spec({ node_type: "select_features", input: { method: "chi2", k: 1 } }, model({ target: "price" })), schema))).toBe("pipeline[0].input.method");
    expect(fieldOf(() => validatePipeline(spec({ node_type: "split", input: { stratify: true } }, model({ target: "price" })), schema))).toBe("pipeline[0].input.stratify");
    expect(fieldOf(() => validatePipeline(spec(model({ features: ["age", "color"] })), schema))).toBe("pipeline[0].input.features[1]");
  });

  it("spec shape errors", () => {
    expect(fieldOf(() => validatePipeline({ pipeline: [model()] }, schema))).toBe("pipeline_name");
    expect(fieldOf(() => validatePipeline({ pipeline_name: "x", pipeline: [] }, schema))).toBe("pipeline");
    expect(fieldOf(() => validatePipeline({ pipeline_name: "x", pipeline: ["scale"] }, schema))).toBe("pipeline[0]");
  });

  it("trainSpec builds a valid pipeline for every model type", () => {
    for (const m of MODEL_TYPES) {
      const target = m.tasks.includes("classification") ? "label" : "price";
      const s = trainSpec(target, { type: m.type }, { dataset_id: "ds-1" });
      const plan = validatePipeline(s, schema);
      expect(plan.split?.params.test_size).toBe(0.2);
      expect(plan.steps.some((st) => st.node_type === "scale")).toBe(["linear_regression", "logistic_regression", "neural_network"].includes(m.type));
    }
  });

  it("catalogue lists every node type with params", () => {
    expect(NODE_TYPES.map((n) => n.node_type)).toEqual(["dataset", "upload_file", "missing_values", "encode", "transform", "scale", "select_features", "split", "model"]);
    for (const n of NODE_TYPES) expect(n.description.length).toBeGreaterThan(10);
    expect(MODEL_TYPES.map((m) => m.type)).toEqual(["linear_regression", "logistic_regression", "decision_tree", "random_forest", "neural_network"]);
  });
});
