/**
 * The fit pipeline shared by the sync, async and worker-thread paths:
 * validate and lay out the data once, derive one seed per tree, grow tree t
 * from seed t, then aggregate importances and the out-of-bag score. Because
 * every tree depends only on its own seed, any schedule (sequential or
 * spread over workers) produces the same model.
 */
import { presort, TreeGrower, type GrowParams, type TrainingSet } from './builder';
import { ForestInputError } from './errors';
import {
  toClassCodes,
  toColumnMajor,
  toRegressionTargets,
  toRowMajor,
  type FeatureMatrix,
  type RowMajor,
  type Targets,
} from './input';
import { FlatTree } from './nodes';
import { growParams, resolveMaxSamples, type ResolvedParams } from './params';
import { Prng, randomSeed } from './prng';

export type Task = 'classification' | 'regression';

export interface FitPlan {
  task: Task;
  rows: RowMajor;
  data: TrainingSet;
  presorted: Int32Array;
  grow: GrowParams;
  bootstrap: boolean;
  /** Rows drawn (with replacement) per tree. */
  nBoot: number;
  seed: number;
  treeSeeds: Uint32Array;
  oobScore: boolean;
}

export interface FittedState {
  trees: FlatTree[];
  nFeatures: number;
  /** Classes for classifiers, 1 for regressors. */
  nOutputs: number;
  /** Seed actually used (the given one, or the random one drawn at fit). */
  seed: number;
  /** Mean decrease in impurity, normalised to sum 1 (all zeros if no split was made). */
  featureImportances: Float64Array;
  /** Out-of-bag score (accuracy or R²) if requested. */
  oobScore: number | null;
}

/**
 * Validate X / y and build the column-major copy and per-feature argsort.
 * `shared` puts the big arrays on SharedArrayBuffers for worker threads.
 */
export function planFit(
  task: Task,
  params: ResolvedParams,
  X: FeatureMatrix,
  y: Targets,
  shared = false,
): FitPlan {
  if (y == null || typeof (y as { length?: unknown }).length !== 'number') {
    throw new ForestInputError('y must be an array of numbers');
  }
  let yc: Int32Array | null = null;
  let yr: Float64Array | null = null;
  let nClasses = 1;
  if (task === 'classification') {
    const c = toClassCodes(y);
    yc = c.codes;
    nClasses = c.nClasses;
  } else {
    yr = toRegressionTargets(y);
  }
  const rows = toRowMajor(X, { rows: y.length });
  const n = rows.rows, F = rows.cols;
  let Xc = toColumnMajor(rows);
  let presorted = presort(Xc, n, F);
  if (shared) {
    Xc = shareCopy(Xc, Float64Array);
    presorted = shareCopy(presorted, Int32Array);
    if (yc) yc = shareCopy(yc, Int32Array);
    if (yr) yr = shareCopy(yr, Float64Array);
  }
  const seed = params.seed ?? randomSeed();
  const master = new Prng(seed);
  const treeSeeds = new Uint32Array(params.nEstimators);
  for (let t = 0; t < treeSeeds.length; t++) treeSeeds[t] = master.nextUint32();
  return {
    task,
    rows,
    data: { X: Xc, n, nFeatures: F, yc, yr, nClasses },
    presorted,
    grow: growParams(params, F),
    bootstrap: params.bootstrap,
    nBoot: resolveMaxSamples(params.maxSamples, n),
    seed,
    treeSeeds,
    oobScore: params.oobScore,
  };
}

function shareCopy<T extends Float64Array | Int32Array>(
  a: T,
  Ctor: { new (b: SharedArrayBuffer): T },
): T {
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

/** Bootstrap counts for one tree, drawn from the start of the tree's own stream. */
export function drawBootstrap(rng: Prng, n: number, nBoot: number, out: Float64Array): Float64Array {
  out.fill(0);
  for (let d = 0; d < nBoot; d++) out[rng.int(n)] += 1;
  return out;
}

/** Grow tree t: its bootstrap and its feature draws all come from treeSeeds[t]. */
export function growSeeded(
  grower: TreeGrower,
  seed: number,
  bootstrap: boolean,
  n: number,
  nBoot: number,
  weightsBuf: Float64Array,
): { tree: FlatTree; importances: Float64Array } {
  const rng = new Prng(seed);
  const weights = bootstrap ? drawBootstrap(rng, n, nBoot, weightsBuf) : null;
  return grower.grow(weights, rng);
}

/**
 * Collects trees (in any arrival order) and produces the fitted state.
 * Aggregation runs in tree-index order in finish(), so floating-point sums,
 * and therefore the model, do not depend on which worker finished first.
 */
export class FitAccumulator {
  readonly trees: FlatTree[];
  private readonly perTree: Float64Array[];

  constructor(private readonly plan: FitPlan) {
    this.trees = new Array<FlatTree>(plan.treeSeeds.length);
    this.perTree = new Array<Float64Array>(plan.treeSeeds.length);
  }

  add(t: number, tree: FlatTree, importances: Float64Array): void {
    this.trees[t] = tree;
    this.perTree[t] = importances;
  }

  finish(): FittedState {
    const { plan } = this;
    const { n, nFeatures: F, nClasses } = plan.data;
    const importances = new Float64Array(F);
    for (const imp of this.perTree) {
      let s = 0;
      for (let f = 0; f < F; f++) s += imp[f];
      if (s > 0) for (let f = 0; f < F; f++) importances[f] += imp[f] / s;
    }
    let total = 0;
    for (let f = 0; f < F; f++) total += importances[f];
    if (total > 0) for (let f = 0; f < F; f++) importances[f] /= total;

    let oobScore: number | null = null;
    if (plan.oobScore && plan.bootstrap) {
      // Bootstrap counts are re-drawn from each tree's seed: cheaper than keeping them all.
      const oob = new OobAccumulator(plan.rows, nClasses);
      const w = new Float64Array(n);
      for (let t = 0; t < this.trees.length; t++) {
        oob.add(this.trees[t], drawBootstrap(new Prng(plan.treeSeeds[t]), n, plan.nBoot, w));
      }
      oobScore = oob.score(plan.task, plan.data.yc, plan.data.yr);
    }
    return {
      trees: this.trees,
      nFeatures: F,
      nOutputs: nClasses,
      seed: plan.seed,
      featureImportances: importances,
      oobScore,
    };
  }
}

/**
 * Out-of-bag predictions: each row is predicted by the trees it was not drawn
 * for. A row drawn by every tree has no OOB prediction and is left out of the
 * score (ml-random-forest crashes on such rows).
 */
class OobAccumulator {
  private readonly sum: Float64Array;
  private readonly count: Int32Array;
  constructor(private readonly rows: RowMajor, private readonly k: number) {
    this.sum = new Float64Array(rows.rows * k);
    this.count = new Int32Array(rows.rows);
  }
  add(tree: FlatTree, weights: Float64Array): void {
    const { data, rows, cols } = this.rows;
    const k = this.k;
    for (let r = 0; r < rows; r++) {
      if (weights[r] > 0) continue;
      const leaf = tree.leafOf(data, r * cols);
      for (let c = 0; c < k; c++) this.sum[r * k + c] += tree.value[leaf * k + c];
      this.count[r]++;
    }
  }
  score(task: Task, yc: Int32Array | null, yr: Float64Array | null): number | null {
    const n = this.rows.rows, k = this.k;
    let used = 0;
    if (task === 'classification') {
      let correct = 0;
      for (let r = 0; r < n; r++) {
        if (this.count[r] === 0) continue;
        used++;
        if (argmax(this.sum, r * k, k) === yc![r]) correct++;
      }
      return used === 0 ? null : correct / used;
    }
    let mean = 0;
    for (let r = 0; r < n; r++) if (this.count[r] > 0) (mean += yr![r]), used++;
    if (used === 0) return null;
    mean /= used;
    let ssRes = 0, ssTot = 0;
    for (let r = 0; r < n; r++) {
      if (this.count[r] === 0) continue;
      const d = yr![r] - this.sum[r] / this.count[r];
      ssRes += d * d;
      ssTot += (yr![r] - mean) ** 2;
    }
    return ssTot > 0 ? 1 - ssRes / ssTot : null;
  }
}

export function argmax(a: Float64Array, o: number, k: number): number {
  let best = 0, bv = a[o];
  for (let c = 1; c < k; c++) if (a[o + c] > bv) (bv = a[o + c]), (best = c);
  return best;
}

/** Sequential fit as a generator that yields between trees (sync and async drivers share it). */
export function* fitSequential(plan: FitPlan, onTree: (done: number, total: number) => void): Generator<void, FittedState> {
  const grower = new TreeGrower(plan.data, plan.presorted, plan.grow);
  const acc = new FitAccumulator(plan);
  const T = plan.treeSeeds.length;
  const weightsBuf = new Float64Array(plan.data.n);
  for (let t = 0; t < T; t++) {
    const g = growSeeded(grower, plan.treeSeeds[t], plan.bootstrap, plan.data.n, plan.nBoot, weightsBuf);
    acc.add(t, g.tree, g.importances);
    onTree(t + 1, T);
    if (t + 1 < T) yield;
  }
  return acc.finish();
}
