/**
 * Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent
 * individualized feature attribution for tree ensembles", Algorithm 2).
 *
 * The value of a feature subset S is E[f(x) | x_S] where features outside S
 * are integrated out by following both children weighted by their training
 * cover (node sample weights). One pass per (row, tree) costs O(L * D^2)
 * instead of enumerating 2^M subsets. The path bookkeeping mirrors the
 * reference C++ implementation (shap's tree_shap_recursive): `pweight[i]` is
 * the weight of all subsets of size i of the unique features on the current
 * path; extend adds a feature, unwind removes one (a feature met twice on a
 * path is unwound and re-added with the product of its fractions).
 */
import { ForestInputError } from './errors';
import { toRowMajor, type FeatureMatrix } from './input';
import { argmax, ClassifierModel, type TreeEnsembleModel } from './ensemble';
import { FlatTree } from './nodes';

export interface ShapRow {
  /** Which output baseValue / contributions describe: a class code (classifiers) or 0. */
  output: number;
  /** Cover-weighted mean model output for `output` (same for every row). */
  baseValue: number;
  /** Per-feature contributions for `output`: baseValue + sum(contributions) = model output. */
  contributions: Float64Array;
  /** Every output: baseValues[k]. */
  baseValues: Float64Array;
  /** Every output: shapValues[k][feature]; baseValues[k] + sum_f shapValues[k][f] = output k. */
  shapValues: Float64Array[];
}

export interface TreeShapOptions {
  /**
   * Output that `baseValue` / `contributions` refer to. Classifiers default to
   * 'predicted' (each row's most probable class); regressors have only 0.
   * shapValues always carries all outputs.
   */
  output?: number | 'predicted';
  /** Feature count when `model` is bare trees and X is a flat array. */
  nFeatures?: number;
}

/** Model output = mean over trees; so are its SHAP values. */
export function treeShap(
  model: TreeEnsembleModel | FlatTree | readonly FlatTree[],
  X: FeatureMatrix,
  opts: TreeShapOptions = {},
): ShapRow[] {
  let trees: readonly FlatTree[];
  let nFeatures: number | undefined = opts.nFeatures;
  let classifier = false;
  if (model instanceof FlatTree) trees = [model];
  else if (Array.isArray(model)) trees = model as readonly FlatTree[];
  else {
    const m = model as TreeEnsembleModel;
    trees = m.trees;
    nFeatures = m.nFeatures;
    classifier = m instanceof ClassifierModel;
  }
  if (trees.length === 0) throw new ForestInputError('treeShap needs at least one tree');
  const K = trees[0].nOutputs;
  if (trees.some((t) => t.nOutputs !== K)) throw new ForestInputError('trees disagree on output count');
  if (nFeatures === undefined && (X instanceof Float64Array || X instanceof Float32Array)) {
    throw new ForestInputError('pass opts.nFeatures with a flat X and bare trees');
  }
  const m = toRowMajor(X, nFeatures === undefined ? { cols: (X as ArrayLike<number>[])[0]?.length } : { cols: nFeatures });
  const F = m.cols;
  for (const t of trees) {
    for (let i = 0; i < t.nNodes; i++) {
      if (t.feature[i] >= F) throw new ForestInputError(`tree splits on feature ${t.feature[i]} but X has ${F}`);
    }
  }
  const output = opts.output ?? (classifier ? 'predicted' : 0);
  if (output !== 'predicted' && (!Number.isInteger(output) || output < 0 || output >= K)) {
    throw new ForestInputError(`output ${output} is not in 0..${K - 1}`);
  }

  const scale = 1 / trees.length;
  const baseValues = new Float64Array(K);
  for (const t of trees) {
    const ev = expectedValue(t);
    for (let k = 0; k < K; k++) baseValues[k] += scale * ev[k];
  }

  let maxDepth = 0;
  for (const t of trees) maxDepth = Math.max(maxDepth, t.maxDepth());
  const ws = new PathWorkspace(maxDepth);
  const phi = new Float64Array(F * K);
  const fx = new Float64Array(K);
  const result: ShapRow[] = [];
  for (let r = 0; r < m.rows; r++) {
    phi.fill(0);
    fx.fill(0);
    const off = r * F;
    for (const t of trees) {
      ws.run(t, m.data, off, phi, scale);
      const leaf = t.leafOf(m.data, off);
      for (let k = 0; k < K; k++) fx[k] += scale * t.value[leaf * K + k];
    }
    const shapValues: Float64Array[] = [];
    for (let k = 0; k < K; k++) {
      const row = new Float64Array(F);
      for (let f = 0; f < F; f++) row[f] = phi[f * K + k];
      shapValues.push(row);
    }
    const o = output === 'predicted' ? argmax(fx, 0, K) : output;
    result.push({
      output: o,
      baseValue: baseValues[o],
      contributions: shapValues[o],
      baseValues: baseValues.slice(),
      shapValues,
    });
  }
  return result;
}

/** Cover-weighted mean leaf value: E[f(x)] under the tree's training distribution. */
export function expectedValue(tree: FlatTree): Float64Array {
  const K = tree.nOutputs;
  const ev = new Float64Array(K);
  const root = tree.cover[0];
  for (let i = 0; i < tree.nNodes; i++) {
    if (tree.feature[i] >= 0) continue;
    const w = tree.cover[i] / root;
    for (let k = 0; k < K; k++) ev[k] += w * tree.value[i * K + k];
  }
  return ev;
}

/**
 * Path storage for the recursion: each level gets its own copy of the path
 * (levels are laid out one after another, as in the reference code), held in
 * struct-of-arrays form.
 */
class PathWorkspace {
  private readonly fi: Int32Array;
  private readonly zf: Float64Array;
  private readonly of: Float64Array;
  private readonly pw: Float64Array;
  private tree!: FlatTree;
  private x!: Float64Array;
  private xOff = 0;
  private phi!: Float64Array;
  private scale = 1;

  constructor(maxDepth: number) {
    const maxd = maxDepth + 2;
    const size = (maxd * (maxd + 1)) / 2 + maxd;
    this.fi = new Int32Array(size);
    this.zf = new Float64Array(size);
    this.of = new Float64Array(size);
    this.pw = new Float64Array(size);
  }

  run(tree: FlatTree, x: Float64Array, xOff: number, phi: Float64Array, scale: number): void {
    this.tree = tree;
    this.x = x;
    this.xOff = xOff;
    this.phi = phi;
    this.scale = scale;
    // The root call's "parent path" is an empty level at offset 0.
    this.recurse(0, 0, 0, 1, 1, -1);
  }

  private recurse(
    node: number,
    uniqueDepth: number,
    parentOff: number,
    parentZero: number,
    parentOne: number,
    parentFeature: number,
  ): void {
    const { fi, zf, of, pw } = this;
    const off = parentOff + uniqueDepth + 1;
    for (let i = 0; i <= uniqueDepth; i++) {
      fi[off + i] = fi[parentOff + i];
      zf[off + i] = zf[parentOff + i];
      of[off + i] = of[parentOff + i];
      pw[off + i] = pw[parentOff + i];
    }
    this.extend(off, uniqueDepth, parentZero, parentOne, parentFeature);

    const tree = this.tree;
    const split = tree.feature[node];
    if (split < 0) {
      const K = tree.nOutputs;
      for (let i = 1; i <= uniqueDepth; i++) {
        const w = this.unwoundSum(off, uniqueDepth, i);
        const s = w * (of[off + i] - zf[off + i]) * this.scale;
        const po = fi[off + i] * K, vo = node * K;
        for (let k = 0; k < K; k++) this.phi[po + k] += s * tree.value[vo + k];
      }
      return;
    }

    const goesLeft = this.x[this.xOff + split] <= tree.threshold[node];
    const hot = goesLeft ? tree.left[node] : tree.right[node];
    const cold = goesLeft ? tree.right[node] : tree.left[node];
    const w = tree.cover[node];
    const hotZero = tree.cover[hot] / w;
    const coldZero = tree.cover[cold] / w;
    let inZero = 1, inOne = 1;
    // A feature already on the path is unwound and re-extended with combined fractions.
    let pathIndex = 0;
    for (; pathIndex <= uniqueDepth; pathIndex++) if (fi[off + pathIndex] === split) break;
    if (pathIndex !== uniqueDepth + 1) {
      inZero = zf[off + pathIndex];
      inOne = of[off + pathIndex];
      this.unwind(off, uniqueDepth, pathIndex);
      uniqueDepth -= 1;
    }
    this.recurse(hot, uniqueDepth + 1, off, hotZero * inZero, inOne, split);
    this.recurse(cold, uniqueDepth + 1, off, coldZero * inZero, 0, split);
  }

  private extend(o: number, d: number, zero: number, one: number, feature: number): void {
    const { fi, zf, of, pw } = this;
    fi[o + d] = feature;
    zf[o + d] = zero;
    of[o + d] = one;
    pw[o + d] = d === 0 ? 1 : 0;
    for (let i = d - 1; i >= 0; i--) {
      pw[o + i + 1] += (one * pw[o + i] * (i + 1)) / (d + 1);
      pw[o + i] = (zero * pw[o + i] * (d - i)) / (d + 1);
    }
  }

  private unwind(o: number, d: number, pathIndex: number): void {
    const { fi, zf, of, pw } = this;
    const one = of[o + pathIndex], zero = zf[o + pathIndex];
    let nextOne = pw[o + d];
    for (let i = d - 1; i >= 0; i--) {
      if (one !== 0) {
        const tmp = pw[o + i];
        pw[o + i] = (nextOne * (d + 1)) / ((i + 1) * one);
        nextOne = tmp - (pw[o + i] * zero * (d - i)) / (d + 1);
      } else {
        pw[o + i] = (pw[o + i] * (d + 1)) / (zero * (d - i));
      }
    }
    for (let i = pathIndex; i < d; i++) {
      fi[o + i] = fi[o + i + 1];
      zf[o + i] = zf[o + i + 1];
      of[o + i] = of[o + i + 1];
    }
  }

  /** Total weight of path element pathIndex's subsets with it removed (without modifying the path). */
  private unwoundSum(o: number, d: number, pathIndex: number): number {
    const { zf, of, pw } = this;
    const one = of[o + pathIndex], zero = zf[o + pathIndex];
    let nextOne = pw[o + d];
    let total = 0;
    if (one !== 0) {
      for (let i = d - 1; i >= 0; i--) {
        const tmp = nextOne / ((i + 1) * one);
        total += tmp;
        nextOne = pw[o + i] - tmp * zero * (d - i);
      }
    } else {
      for (let i = d - 1; i >= 0; i--) total += pw[o + i] / (zero * (d - i));
    }
    return total * (d + 1);
  }
}
