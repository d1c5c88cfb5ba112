// Decision tree and random forest via @millrace/forest. The forest works on
// class codes 0..k-1 and row-major Float64Arrays, which is what the pipeline
// hands every model, so this adapter only maps parameter names, pads class
// columns a training split may lack, and routes TreeSHAP.

import {
  DecisionTreeClassifier,
  DecisionTreeRegressor,
  ForestAbortError,
  ForestParamError,
  RandomForestClassifier,
  RandomForestRegressor,
  loadModel as loadForestModel,
  treeShap,
  type AnyForestModel,
  type MaxFeatures,
  type ModelJSON,
} from "@millrace/forest";
import { DataError, TrainingAbortedError } from "../errors";
import type { Task } from "../nodes/types";
import type { Explanation, FittedModel, ModelFitContext, TrainingSet } from "./types";

export interface TreeParams {
  max_depth?: number | null;
  min_samples_split?: number;
  min_samples_leaf?: number;
  max_features?: string | number | null;
  criterion?: string;
  seed?: number;
  n_estimators?: number;
  bootstrap?: boolean;
}

type TreeModelType = "decision_tree" | "random_forest";

export class TreeModel implements FittedModel {
  readonly nFeatures: number;

  constructor(
    readonly type: TreeModelType,
    readonly task: Task,
    /** Classes the pipeline knows about; the forest may have seen fewer in the training split. */
    readonly nClasses: number,
    private readonly forest: AnyForestModel,
    readonly trainInfo?: Record<string, unknown>,
  ) {
    this.nFeatures = forest.nFeatures;
  }

  get inner(): AnyForestModel { return this.forest; }

  predict(X: Float64Array, nRows: number): Float64Array {
    if (nRows === 0) return new Float64Array(0);
    if (this.task === "regression") return (this.forest as RandomForestRegressor).predict(X);
    const P = (this.forest as RandomForestClassifier).predictProba(X);
    return padClasses(P, nRows, (this.forest as RandomForestClassifier).nClasses, this.nClasses);
  }

  explain(X: Float64Array, nRows: number, classIndex?: Int32Array): Explanation {
    const p = this.nFeatures;
    const base = new Float64Array(nRows), phi = new Float64Array(nRows * p), output = new Float64Array(nRows);
    if (nRows === 0) return { base, phi, output, space: this.task === "regression" ? "value" : "probability" };
    const rows = treeShap(this.forest, X, { output: 0 });
    const seen = this.task === "regression" ? 1 : (this.forest as RandomForestClassifier).nClasses;
    rows.forEach((r, i) => {
      const c = classIndex ? classIndex[i] : 0;
      if (c >= seen) {
        // A class absent from the training split: probability is 0 everywhere, nothing to attribute.
        return;
      }
      base[i] = r.baseValues[c];
      const sv = r.shapValues[c];
      let s = base[i];
      for (let j = 0; j < p; j++) { phi[i * p + j] = sv[j]; s += sv[j]; }
      output[i] = s;
    });
    return { base, phi, output, space: this.task === "regression" ? "value" : "probability" };
  }

  state(): Record<string, unknown> {
    return { forest: this.forest.toJSON(), nClasses: this.nClasses, task: this.task };
  }

  static load(type: TreeModelType, state: Record<string, unknown>): TreeModel {
    const forest = loadForestModel(state.forest as ModelJSON);
    return new TreeModel(type, state.task as Task, state.nClasses as number, forest);
  }
}

function padClasses(P: Float64Array, nRows: number, seen: number, total: number): Float64Array {
  if (seen === total) return P;
  const out = new Float64Array(nRows * total);
  for (let i = 0; i < nRows; i++) for (let c = 0; c < seen; c++) out[i * total + c] = P[i * seen + c];
  return out;
}

function forestParams(type: TreeModelType, params: TreeParams, seed: number) {
  const common = {
    maxDepth: params.max_depth ?? null,
    minSamplesSplit: params.min_samples_split,
    minSamplesLeaf: params.min_samples_leaf,
    maxFeatures: params.max_features as MaxFeatures | undefined,
    seed: (params.seed ?? seed) >>> 0,
  } as Record<string, unknown>;
  if (params.criterion !== undefined) common.criterion = params.criterion;
  if (type === "random_forest") {
    common.nEstimators = params.n_estimators ?? 100;
    common.bootstrap = params.bootstrap ?? true;
  }
  for (const k of Object.keys(common)) if (common[k] === undefined) delete common[k];
  return common;
}

export async function fitTreeModel(type: TreeModelType, data: TrainingSet, params: TreeParams, ctx: ModelFitContext): Promise<TreeModel> {
  const opts = forestParams(type, params, ctx.seed);
  let forest: AnyForestModel;
  try {
    if (ctx.task === "classification") {
      forest = type === "random_forest" ? new RandomForestClassifier(opts) : new DecisionTreeClassifier(opts);
    } else {
      forest = type === "random_forest" ? new RandomForestRegressor(opts) : new DecisionTreeRegressor(opts);
    }
  } catch (err) {
    if (err instanceof ForestParamError) throw new DataError(`invalid ${type} parameters: ${err.message}`, { cause: err });
    throw err;
  }
  try {
    await forest.fitAsync(data.X, data.y, {
      // The forest checks `signal.aborted` before each tree; AbortLike satisfies that.
      signal: ctx.signal as AbortSignal | undefined,
      onProgress: (done, total) => ctx.onProgress?.(done / total, `tree ${done}/${total}`),
    });
  } catch (err) {
    if (err instanceof ForestAbortError) throw new TrainingAbortedError(undefined, { cause: err });
    throw err;
  }
  const info: Record<string, unknown> = { seed: forest.seed, trees: forest.trees.length };
  return new TreeModel(type, ctx.task, ctx.task === "classification" ? data.nClasses : 0, forest, info);
}

/** Normalised mean-decrease-in-impurity importances, for reports. */
export function treeImportances(model: TreeModel): Float64Array {
  return model.inner.featureImportances;
}
