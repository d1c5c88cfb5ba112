/**
 * Hyper-parameters: public option types, defaults (sklearn 1.2's), and
 * validation into the resolved form the builder uses.
 */
import type { ClassificationCriterion, Criterion, GrowParams } from './builder';
import { ForestParamError } from './errors';

/**
 * Features tried per split: 'sqrt' / 'log2' of the feature count, 'all' (or
 * null), a fraction in (0, 1] of the features, or an integer count > 1.
 * Like sklearn, at least one feature is always tried; 1 means all (1.0).
 */
export type MaxFeatures = 'sqrt' | 'log2' | 'all' | number | null;

export interface TreeParams {
  /** Maximum depth (root = 0). null / undefined: grow until leaves are pure or too small. */
  maxDepth?: number | null;
  /** A node with fewer (distinct in-bag) rows is not split. Default 2. */
  minSamplesSplit?: number;
  /** Each child keeps at least this many rows. Default 1. */
  minSamplesLeaf?: number;
  maxFeatures?: MaxFeatures;
  /** PRNG seed; same seed, same data, same options -> identical model. Default: random (stored on the model). */
  seed?: number;
}

export interface ClassifierTreeParams extends TreeParams {
  /** Default 'gini'. 'log_loss' is an alias of 'entropy' as in sklearn. */
  criterion?: ClassificationCriterion | 'log_loss';
}

export interface RegressorTreeParams extends TreeParams {
  /** Only 'squared_error' (alias 'mse'). */
  criterion?: 'squared_error' | 'mse';
}

export interface ForestExtraParams {
  /** Number of trees. Default 100. */
  nEstimators?: number;
  /** Bootstrap-sample rows per tree. Default true. */
  bootstrap?: boolean;
  /** Bootstrap size: fraction in (0, 1] or row count > 1. Default: all rows. */
  maxSamples?: number | null;
  /** Compute the out-of-bag score during fit (needs bootstrap). Default false. */
  oobScore?: boolean;
}

export type DecisionTreeClassifierParams = ClassifierTreeParams;
export type DecisionTreeRegressorParams = RegressorTreeParams;
export type RandomForestClassifierParams = ClassifierTreeParams & ForestExtraParams;
export type RandomForestRegressorParams = RegressorTreeParams & ForestExtraParams;

export interface FitOptions {
  /** Called after each tree with (trees done, total trees). */
  onProgress?: (done: number, total: number) => void;
  /** Checked before each tree; abort -> ForestAbortError. */
  signal?: AbortSignal;
  /**
   * fitAsync only: worker threads to grow trees on (-1: one per CPU). Default
   * 1 (no workers). Same model as a sequential fit with the same seed.
   */
  nJobs?: number;
}

/** Everything a fit needs, validated. maxFeatures is kept symbolic until the feature count is known. */
export interface ResolvedParams {
  nEstimators: number;
  bootstrap: boolean;
  maxSamples: number | null;
  oobScore: boolean;
  maxDepth: number | null;
  minSamplesSplit: number;
  minSamplesLeaf: number;
  maxFeatures: MaxFeatures;
  criterion: Criterion;
  seed: number | null;
}

function positiveInt(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new ForestParamError(`${name} must be an integer >= ${min}, got ${v}`);
  }
  return v;
}

export function resolveParams(
  task: 'classification' | 'regression',
  forest: boolean,
  p: (ClassifierTreeParams | RegressorTreeParams) & ForestExtraParams,
): ResolvedParams {
  let criterion: Criterion;
  const c = p.criterion ?? (task === 'classification' ? 'gini' : 'squared_error');
  if (task === 'classification') {
    if (c === 'gini') criterion = 'gini';
    else if (c === 'entropy' || c === 'log_loss') criterion = 'entropy';
    else throw new ForestParamError(`criterion '${c}' is not one of gini, entropy, log_loss`);
  } else {
    if (c === 'squared_error' || c === 'mse') criterion = 'squared_error';
    else throw new ForestParamError(`criterion '${c}' is not squared_error`);
  }
  const maxDepth = p.maxDepth ?? null;
  if (maxDepth !== null) positiveInt('maxDepth', maxDepth, 1);
  const maxFeatures = p.maxFeatures === undefined
    ? (forest && task === 'classification' ? 'sqrt' : 'all')
    : p.maxFeatures;
  if (typeof maxFeatures === 'number') {
    if (!(maxFeatures > 0) || (maxFeatures > 1 && !Number.isInteger(maxFeatures))) {
      throw new ForestParamError(
        `maxFeatures must be a fraction in (0, 1] or an integer count, got ${maxFeatures}`,
      );
    }
  } else if (maxFeatures !== null && maxFeatures !== 'sqrt' && maxFeatures !== 'log2' && maxFeatures !== 'all') {
    throw new ForestParamError(`maxFeatures '${String(maxFeatures)}' is not sqrt, log2, all or a number`);
  }
  const maxSamples = p.maxSamples ?? null;
  if (maxSamples !== null && (!(maxSamples > 0) || (maxSamples > 1 && !Number.isInteger(maxSamples)))) {
    throw new ForestParamError(`maxSamples must be a fraction in (0, 1] or an integer count, got ${maxSamples}`);
  }
  const bootstrap = forest ? (p.bootstrap ?? true) : false;
  const oobScore = forest ? (p.oobScore ?? false) : false;
  if (oobScore && !bootstrap) throw new ForestParamError('oobScore needs bootstrap: true');
  const seed = p.seed ?? null;
  if (seed !== null && (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) {
    throw new ForestParamError(`seed must be an integer in [0, 2^32), got ${seed}`);
  }
  return {
    nEstimators: forest ? positiveInt('nEstimators', p.nEstimators ?? 100, 1) : 1,
    bootstrap,
    maxSamples,
    oobScore,
    maxDepth,
    minSamplesSplit: positiveInt('minSamplesSplit', p.minSamplesSplit ?? 2, 2),
    minSamplesLeaf: positiveInt('minSamplesLeaf', p.minSamplesLeaf ?? 1, 1),
    maxFeatures,
    criterion,
    seed,
  };
}

/** sklearn's rule: max(1, int(...)). */
export function resolveMaxFeatures(mf: MaxFeatures, nFeatures: number): number {
  let k: number;
  if (mf === null || mf === 'all') k = nFeatures;
  else if (mf === 'sqrt') k = Math.floor(Math.sqrt(nFeatures));
  else if (mf === 'log2') k = Math.floor(Math.log2(nFeatures));
  else if (mf <= 1) k = Math.floor(mf * nFeatures);
  else k = mf;
  return Math.min(nFeatures, Math.max(1, k));
}

export function resolveMaxSamples(ms: number | null, n: number): number {
  if (ms === null) return n;
  const k = ms <= 1 ? Math.round(ms * n) : ms;
  return Math.min(n, Math.max(1, k));
}

export function growParams(r: ResolvedParams, nFeatures: number): GrowParams {
  return {
    maxDepth: r.maxDepth ?? Infinity,
    minSamplesSplit: r.minSamplesSplit,
    minSamplesLeaf: r.minSamplesLeaf,
    maxFeatures: resolveMaxFeatures(r.maxFeatures, nFeatures),
    criterion: r.criterion,
  };
}
