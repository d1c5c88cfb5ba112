/**
 * Base classes of the four public estimators: the fit drivers (sync,
 * event-loop friendly async, worker threads; all over training.ts), and
 * prediction as the mean of the trees' outputs. A DecisionTree* is one tree
 * grown on every row once.
 */
import { ForestAbortError, ForestNotFittedError, ForestParamError } from './errors';
import { toRowMajor, type FeatureMatrix, type Targets } from './input';
import { accumulateTree, FlatTree } from './nodes';
import { fitParallel, resolveJobs } from './parallel';
import type { FitOptions, ResolvedParams } from './params';
import { argmax, fitSequential, planFit, type FittedState, type Task } from './training';

export { argmax, type FittedState, type Task };

export type ModelKind =
  | 'DecisionTreeClassifier'
  | 'DecisionTreeRegressor'
  | 'RandomForestClassifier'
  | 'RandomForestRegressor';

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ForestAbortError('fit aborted', { cause: signal.reason });
}

function checkJobs(nJobs: number | undefined): number {
  if (nJobs !== undefined && nJobs !== -1 && !(Number.isInteger(nJobs) && nJobs >= 1)) {
    throw new ForestParamError(`nJobs must be a positive integer or -1, got ${nJobs}`);
  }
  return resolveJobs(nJobs);
}

/** Base of all four estimators. */
export abstract class TreeEnsembleModel {
  abstract readonly kind: ModelKind;
  protected abstract readonly task: Task;
  /** @internal fitted state; null until fit / fromJSON. */
  state: FittedState | null = null;

  constructor(readonly params: ResolvedParams) {}

  /** Fit synchronously. The signal can only abort between trees, e.g. from onProgress. */
  fit(X: FeatureMatrix, y: Targets, opts: FitOptions = {}): this {
    if (checkJobs(opts.nJobs) > 1) throw new ForestParamError('nJobs > 1 needs fitAsync');
    throwIfAborted(opts.signal);
    const plan = planFit(this.task, this.params, X, y);
    const it = fitSequential(plan, (d, t) => opts.onProgress?.(d, t));
    for (;;) {
      throwIfAborted(opts.signal);
      const r = it.next();
      if (r.done) {
        this.state = r.value;
        return this;
      }
    }
  }

  /**
   * Fit, yielding to the event loop between trees so timers, I/O and an
   * AbortSignal fired from elsewhere are served while a forest grows. With
   * nJobs > 1 trees are grown on worker threads.
   */
  async fitAsync(X: FeatureMatrix, y: Targets, opts: FitOptions = {}): Promise<this> {
    const jobs = checkJobs(opts.nJobs);
    throwIfAborted(opts.signal);
    const parallel = jobs > 1 && this.params.nEstimators > 1;
    const plan = planFit(this.task, this.params, X, y, parallel);
    const onTree = (d: number, t: number): void => opts.onProgress?.(d, t);
    if (parallel) {
      this.state = await fitParallel(plan, jobs, onTree, opts.signal);
      return this;
    }
    const it = fitSequential(plan, onTree);
    for (;;) {
      throwIfAborted(opts.signal);
      const r = it.next();
      if (r.done) {
        this.state = r.value;
        return this;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  protected fitted(): FittedState {
    if (!this.state) throw new ForestNotFittedError(`${this.kind} is not fitted: call fit() first`);
    return this.state;
  }

  get isFitted(): boolean {
    return this.state !== null;
  }

  /** The fitted trees (one for DecisionTree*). */
  get trees(): readonly FlatTree[] {
    return this.fitted().trees;
  }

  get nFeatures(): number {
    return this.fitted().nFeatures;
  }

  get featureImportances(): Float64Array {
    return this.fitted().featureImportances;
  }

  /** Seed the fit used; pass it back as `seed` to reproduce the model. */
  get seed(): number {
    return this.fitted().seed;
  }

  /** Mean of the trees' outputs, rows x nOutputs row-major. */
  protected averageOutputs(X: FeatureMatrix): { out: Float64Array; rows: number } {
    const st = this.fitted();
    const m = toRowMajor(X, { cols: st.nFeatures });
    const out = new Float64Array(m.rows * st.nOutputs);
    const scale = 1 / st.trees.length;
    for (const tree of st.trees) accumulateTree(tree, m.data, m.rows, m.cols, out, scale);
    return { out, rows: m.rows };
  }
}

export abstract class ClassifierModel extends TreeEnsembleModel {
  protected readonly task = 'classification' as const;

  get nClasses(): number {
    return this.fitted().nOutputs;
  }

  /** Class codes 0..nClasses-1, the column order of predictProba. */
  get classes(): number[] {
    return Array.from({ length: this.nClasses }, (_, i) => i);
  }

  /** Class probabilities, rows x nClasses row-major (mean of the trees' leaf distributions). */
  predictProba(X: FeatureMatrix): Float64Array {
    return this.averageOutputs(X).out;
  }

  /** Most probable class code per row (lowest code on ties). */
  predict(X: FeatureMatrix): Int32Array {
    const { out, rows } = this.averageOutputs(X);
    const k = this.nClasses;
    const pred = new Int32Array(rows);
    for (let r = 0; r < rows; r++) pred[r] = argmax(out, r * k, k);
    return pred;
  }
}

export abstract class RegressorModel extends TreeEnsembleModel {
  protected readonly task = 'regression' as const;

  /** Mean of the trees' leaf means per row. */
  predict(X: FeatureMatrix): Float64Array {
    return this.averageOutputs(X).out;
  }
}
