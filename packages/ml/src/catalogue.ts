// The node and model catalogue: names, parameter schemas and descriptions.
// validatePipeline checks specs against it, the gateway can serve it and the
// README lists it, so this file is the single source of truth for params.

import { PipelineValidationError } from "./errors";
import type { Task } from "./nodes/types";

export type ParamType = "string" | "number" | "integer" | "boolean" | "column" | "columns" | "object" | "integer[]" | "any";

export interface ParamSpec {
  type: ParamType | readonly ParamType[];
  required?: boolean;
  /** null is accepted (and means "use the default behaviour"). */
  nullable?: boolean;
  enum?: readonly string[];
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
  default?: unknown;
  description: string;
}

export type NodeType =
  | "dataset"
  | "upload_file"
  | "missing_values"
  | "encode"
  | "transform"
  | "scale"
  | "select_features"
  | "split"
  | "model";

export interface NodeTypeInfo {
  node_type: NodeType;
  category: "data" | "preprocessing" | "split" | "model";
  description: string;
  params: Record<string, ParamSpec>;
}

export type ModelType = "linear_regression" | "logistic_regression" | "decision_tree" | "random_forest" | "neural_network";

export interface ModelTypeInfo {
  type: ModelType;
  tasks: readonly Task[];
  description: string;
  explain: string;
  params: Record<string, ParamSpec>;
}

const columnTypesParam: ParamSpec = {
  type: "object",
  description: "Override inferred column types: {column: 'number'|'integer'|'boolean'|'category'|'date'|'text'}.",
};
const columnsParam = (what: string): ParamSpec => ({ type: "columns", description: what });

export const NODE_TYPES: readonly NodeTypeInfo[] = [
  {
    node_type: "dataset",
    category: "data",
    description: "Source: a stored dataset by id. The caller loads it and passes the frame to runPipeline. Must be first.",
    params: {
      dataset_id: { type: "string", required: true, description: "Dataset id." },
      column_types: columnTypesParam,
    },
  },
  {
    node_type: "upload_file",
    category: "data",
    description: "Source: an uploaded CSV file. The caller passes its bytes (or parsed frame) to runPipeline. Must be first.",
    params: {
      file_id: { type: "string", description: "Upload id." },
      filename: { type: "string", description: "Original file name (informational)." },
      column_types: columnTypesParam,
    },
  },
  {
    node_type: "missing_values",
    category: "preprocessing",
    description:
      "Handle missing cells. drop_rows drops training rows with a missing value in `columns` (at prediction such a row is rejected); " +
      "mean/median fill numeric columns; most_frequent fills any column with its mode (ties: smallest); constant fills with fill_value.",
    params: {
      strategy: { type: "string", required: true, enum: ["drop_rows", "mean", "median", "most_frequent", "constant"], description: "How to handle missing cells." },
      columns: columnsParam("Columns to handle. Default: every feature column the strategy applies to (numeric for mean/median, all otherwise)."),
      fill_value: { type: "any", description: "Value for strategy 'constant'. Default 0 for numeric columns, 'missing_value' for text, false for boolean." },
    },
  },
  {
    node_type: "encode",
    category: "preprocessing",
    description:
      "Encode categorical columns. one_hot → one 0/1 column per category named `column=value`; label → integer codes in sorted order; " +
      "ordinal → integer codes in the order given by `categories` (default sorted); target → smoothed mean of the target per category " +
      "(regression: replaces the column; classification: `column__<class>` per class, only the positive class when binary). Fitted on training rows only.",
    params: {
      method: { type: "string", required: true, enum: ["one_hot", "label", "ordinal", "target"], description: "Encoding." },
      columns: columnsParam("Columns to encode. Default: all category columns."),
      categories: { type: "object", description: "ordinal: {column: [values in order]}; one_hot: fixed category lists per column." },
      handle_unknown: { type: "string", enum: ["ignore", "error"], default: "ignore", description: "Unseen category at prediction: ignore (one_hot all zeros, label/ordinal -1, target prior) or reject the row." },
      max_categories: { type: "integer", min: 1, description: "one_hot: keep only the most frequent categories; the rest are treated as unknown." },
      smoothing: { type: "number", min: 0, default: 1, description: "target: weight m of the prior in (n·mean + m·prior)/(n + m)." },
    },
  },
  {
    node_type: "transform",
    category: "preprocessing",
    description: "Element-wise transform of numeric columns: log (x>0), log1p (x>-1), sqrt (x≥0), box_cox (x>0, λ fitted per column by maximum likelihood as scipy.stats.boxcox).",
    params: {
      method: { type: "string", required: true, enum: ["log", "log1p", "sqrt", "box_cox"], description: "Transform." },
      columns: { type: "columns", required: true, description: "Numeric columns to transform." },
    },
  },
  {
    node_type: "scale",
    category: "preprocessing",
    description: "Scale numeric columns: standard ((x−mean)/std, population std), minmax ((x−min)/(max−min)), robust ((x−median)/IQR). A zero spread scales by 1.",
    params: {
      method: { type: "string", required: true, enum: ["standard", "minmax", "robust"], description: "Scaler." },
      columns: columnsParam("Columns to scale. Default: all numeric feature columns (number, integer, date)."),
    },
  },
  {
    node_type: "select_features",
    category: "preprocessing",
    description:
      "Keep the k best candidate columns and drop the other candidates. chi2 (classification, non-negative features), f_classif (ANOVA F, classification), " +
      "f_regression (regression), f_score (f_classif or f_regression by task), rfe (recursive elimination with a linear/logistic model by |coefficient|).",
    params: {
      method: { type: "string", required: true, enum: ["chi2", "f_classif", "f_regression", "f_score", "rfe"], description: "Scoring method." },
      k: { type: "integer", required: true, min: 1, description: "Number of candidate columns to keep (capped at the number of candidates)." },
      columns: columnsParam("Candidate columns. Default: all numeric and boolean feature columns."),
      step: { type: "integer", min: 1, description: "rfe: columns removed per round (default 1)." },
    },
  },
  {
    node_type: "split",
    category: "split",
    description:
      "Hold out rows for evaluation. The split is drawn once, before any node is fitted, so every node is fitted on training rows only " +
      "wherever the split appears in the list. test_size 0 evaluates on the training rows (metrics.evaluated_on = 'train').",
    params: {
      test_size: { type: "number", min: 0, max: 1, exclusiveMax: true, default: 0.2, description: "Fraction of rows held out (test rows = ceil(test_size·n))." },
      seed: { type: "integer", description: "Shuffle seed. Default: the run seed." },
      stratify: { type: "boolean", description: "Keep class proportions (default true for classification; not allowed for regression)." },
    },
  },
  {
    node_type: "model",
    category: "model",
    description: "The estimator; must be the last node. Features: `features`, else every numeric/boolean/date column except the target (unencoded category/text columns are ignored with a warning).",
    params: {
      type: { type: "string", required: true, enum: ["linear_regression", "logistic_regression", "decision_tree", "random_forest", "neural_network"], description: "Model type." },
      target: { type: "column", required: true, description: "Target column." },
      task: { type: "string", enum: ["classification", "regression"], description: "Default: implied by the model type, else by the target (number → regression; category/boolean/text → classification; integer → classification when ≤ 20 distinct values)." },
      features: columnsParam("Feature columns (after preprocessing). Default: all usable columns except the target."),
      params: { type: "object", description: "Model hyperparameters; see MODEL_TYPES." },
    },
  },
];

const treeParams: Record<string, ParamSpec> = {
  max_depth: { type: "integer", min: 1, nullable: true, description: "Maximum depth (null: unlimited)." },
  min_samples_split: { type: "integer", min: 2, default: 2, description: "Minimum rows to split a node." },
  min_samples_leaf: { type: "integer", min: 1, default: 1, description: "Minimum rows in a leaf." },
  max_features: { type: ["string", "number"], nullable: true, description: "Features tried per split: 'sqrt', 'log2', a fraction in (0,1], an integer count, or null for all." },
  criterion: { type: "string", enum: ["gini", "entropy", "log_loss", "squared_error"], description: "Split criterion: gini (default) / entropy / log_loss for classification, squared_error for regression." },
  seed: { type: "integer", description: "Random seed (default: the run seed)." },
};

export const MODEL_TYPES: readonly ModelTypeInfo[] = [
  {
    type: "linear_regression",
    tasks: ["regression"],
    description: "Least squares via the normal equations on TensorFlow.js (features standardised internally, Cholesky solve in float64). alpha adds an L2 (ridge) penalty.",
    explain: "Exact: contribution_j = w_j·(x_j − mean_j) (0 for a value within rounding of the mean, e.g. a gap imputed with it); base = prediction at the training mean.",
    params: {
      alpha: { type: "number", min: 0, default: 0, description: "L2 penalty (sklearn Ridge alpha). A tiny jitter keeps collinear designs solvable." },
      fit_intercept: { type: "boolean", default: true, description: "Fit an intercept." },
    },
  },
  {
    type: "logistic_regression",
    tasks: ["classification"],
    description: "Binary (sigmoid) or multinomial (softmax) logistic regression with sklearn's L2 objective (0.5‖w‖² + C·Σ log loss), loss and gradient on TensorFlow.js, L-BFGS optimiser.",
    explain: "Exact in log-odds space of the predicted class: contribution_j = w_kj·(x_j − mean_j) (0 for a value within rounding of the mean).",
    params: {
      C: { type: "number", min: 0, exclusiveMin: true, default: 1, description: "Inverse regularisation strength (sklearn C)." },
      max_iter: { type: "integer", min: 1, default: 500, description: "Maximum L-BFGS iterations." },
      tol: { type: "number", min: 0, exclusiveMin: true, default: 1e-6, description: "Stop when the max |gradient| of the mean objective is below tol." },
      fit_intercept: { type: "boolean", default: true, description: "Fit an intercept (not penalised)." },
    },
  },
  {
    type: "decision_tree",
    tasks: ["classification", "regression"],
    description: "CART decision tree (@millrace/forest).",
    explain: "Exact TreeSHAP (@millrace/forest treeShap); classification explains the predicted class probability.",
    params: { ...treeParams, max_features: { ...treeParams.max_features, description: "Features tried per split (default: all)." } },
  },
  {
    type: "random_forest",
    tasks: ["classification", "regression"],
    description: "Random forest of CART trees with bootstrap sampling (@millrace/forest).",
    explain: "Exact TreeSHAP averaged over trees; classification explains the predicted class probability.",
    params: {
      n_estimators: { type: "integer", min: 1, max: 5000, default: 100, description: "Number of trees." },
      bootstrap: { type: "boolean", default: true, description: "Sample rows with replacement per tree." },
      ...treeParams,
      max_features: { ...treeParams.max_features, description: "Features tried per split (default 'sqrt' for classification, all for regression)." },
    },
  },
  {
    type: "neural_network",
    tasks: ["classification", "regression"],
    description:
      "Dense network (tfjs-layers): hidden layers with the chosen activation, softmax output (classification) or linear output on an internally standardised target (regression); Adam; seeded initialisation and shuffling.",
    explain: "Shapley values of f(x_S, mean_rest) against the training-mean baseline: exact enumeration for ≤ 10 features, 64 seeded antithetic permutations beyond; classification explains the predicted class probability. A value within rounding of its mean contributes 0.",
    params: {
      hidden_layers: { type: "integer[]", default: [32, 16], description: "Units per hidden layer." },
      activation: { type: "string", enum: ["relu", "tanh", "sigmoid"], default: "relu", description: "Hidden activation." },
      epochs: { type: "integer", min: 1, max: 10000, default: 50, description: "Passes over the training rows." },
      learning_rate: { type: "number", min: 0, exclusiveMin: true, default: 0.01, description: "Adam learning rate." },
      batch_size: { type: "integer", min: 1, default: 32, description: "Rows per gradient step." },
      seed: { type: "integer", description: "Random seed (default: the run seed)." },
    },
  },
];

export function nodeTypeInfo(nodeType: string): NodeTypeInfo | undefined {
  return NODE_TYPES.find((n) => n.node_type === nodeType);
}

export function modelTypeInfo(type: string): ModelTypeInfo | undefined {
  return MODEL_TYPES.find((m) => m.type === type);
}

function typeMatches(v: unknown, t: ParamType): boolean {
  switch (t) {
    case "string":
    case "column":
      return typeof v === "string";
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    case "boolean":
      return typeof v === "boolean";
    case "columns":
      return Array.isArray(v);
    case "integer[]":
      return Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 1);
    case "object":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    case "any":
      return true;
  }
}

/**
 * Checks params against specs; returns a copy with defaults filled in.
 * Unknown keys are rejected so typos surface as 400s instead of being ignored.
 */
export function checkParams(input: unknown, specs: Record<string, ParamSpec>, at: string): Record<string, unknown> {
  if (input === undefined || input === null) input = {};
  if (typeof input !== "object" || Array.isArray(input)) throw new PipelineValidationError("must be an object", at);
  const src = input as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(src)) {
    if (!(key in specs)) {
      throw new PipelineValidationError(`unknown parameter (expected one of: ${Object.keys(specs).join(", ")})`, `${at}.${key}`);
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    const field = `${at}.${key}`;
    const v = src[key];
    if (v === undefined || (v === null && spec.nullable)) {
      if (v === null) { out[key] = null; continue; }
      if (spec.required) throw new PipelineValidationError("is required", field);
      if (spec.default !== undefined) out[key] = structuredClone(spec.default);
      continue;
    }
    const types = (Array.isArray(spec.type) ? spec.type : [spec.type]) as ParamType[];
    if (!types.some((t) => typeMatches(v, t))) {
      throw new PipelineValidationError(`must be ${types.map((t) => (t === "columns" ? "an array of column names" : t === "integer[]" ? "an array of positive integers" : `a${/^[aeiou]/.test(t) ? "n" : ""} ${t}`)).join(" or ")}`, field);
    }
    if (spec.enum && typeof v === "string" && !spec.enum.includes(v)) {
      throw new PipelineValidationError(`must be one of: ${spec.enum.join(", ")} (got '${v}')`, field);
    }
    if (typeof v === "number") {
      if (spec.min !== undefined && (spec.exclusiveMin ? v <= spec.min : v < spec.min)) {
        throw new PipelineValidationError(`must be ${spec.exclusiveMin ? ">" : "≥"} ${spec.min} (got ${v})`, field);
      }
      if (spec.max !== undefined && (spec.exclusiveMax ? v >= spec.max : v > spec.max)) {
        throw new PipelineValidationError(`must be ${spec.exclusiveMax ? "<" : "≤"} ${spec.max} (got ${v})`, field);
      }
    }
    if (types.includes("columns") && Array.isArray(v)) {
      if (v.length === 0) throw new PipelineValidationError("must name at least one column", field);
      v.forEach((c, i) => {
        if (typeof c !== "string" || c === "") throw new PipelineValidationError("must be a column name", `${field}[${i}]`);
      });
      const dup = v.find((c, i) => v.indexOf(c) !== i);
      if (dup !== undefined) throw new PipelineValidationError(`column '${dup}' listed twice`, field);
    }
    out[key] = v;
  }
  return out;
}
