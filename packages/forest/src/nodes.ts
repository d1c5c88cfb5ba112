/**
 * Flat node storage for one fitted tree, and the traversal every predict and
 * SHAP path uses. Node 0 is the root; a leaf has feature -1 and left = right = -1.
 * A row goes left when x[feature] <= threshold.
 */
export class FlatTree {
  constructor(
    readonly nNodes: number,
    /** Values per node: nClasses (class distribution, sums to 1) or 1 (regression mean). */
    readonly nOutputs: number,
    readonly feature: Int32Array,
    readonly threshold: Float64Array,
    readonly left: Int32Array,
    readonly right: Int32Array,
    /** nNodes * nOutputs, node-major. */
    readonly value: Float64Array,
    /** Weighted training samples reaching the node (bootstrap counts included): TreeSHAP's cover. */
    readonly cover: Float64Array,
  ) {}

  /** Index of the leaf that the row starting at X[offset] (row-major) lands in. */
  leafOf(X: Float64Array, offset: number): number {
    const feature = this.feature, threshold = this.threshold, left = this.left, right = this.right;
    let node = 0;
    let f = feature[0];
    while (f >= 0) {
      node = X[offset + f] <= threshold[node] ? left[node] : right[node];
      f = feature[node];
    }
    return node;
  }

  /** Deepest root-to-leaf edge count. */
  maxDepth(): number {
    // Explicit stack: no assumption about node numbering (hand-built trees need not be preorder).
    const nodes = [0], depths = [0];
    let max = 0;
    while (nodes.length > 0) {
      const i = nodes.pop()!, d = depths.pop()!;
      if (this.feature[i] >= 0) {
        nodes.push(this.left[i], this.right[i]);
        depths.push(d + 1, d + 1);
      } else if (d > max) max = d;
    }
    return max;
  }

  get nLeaves(): number {
    let n = 0;
    for (let i = 0; i < this.nNodes; i++) if (this.feature[i] < 0) n++;
    return n;
  }
}

/**
 * Accumulate `scale * tree(x)` into out (rows x nOutputs, row-major) for all rows.
 * Tree-major loops keep one tree's arrays hot in cache across the batch.
 */
export function accumulateTree(
  tree: FlatTree,
  X: Float64Array,
  rows: number,
  cols: number,
  out: Float64Array,
  scale: number,
): void {
  const k = tree.nOutputs;
  const value = tree.value;
  const feature = tree.feature, threshold = tree.threshold, left = tree.left, right = tree.right;
  if (k === 1) {
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      let node = 0;
      let f = feature[0];
      while (f >= 0) {
        node = X[off + f] <= threshold[node] ? left[node] : right[node];
        f = feature[node];
      }
      out[r] += scale * value[node];
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let node = 0;
    let f = feature[0];
    while (f >= 0) {
      node = X[off + f] <= threshold[node] ? left[node] : right[node];
      f = feature[node];
    }
    const vo = node * k, oo = r * k;
    for (let c = 0; c < k; c++) out[oo + c] += scale * value[vo + c];
  }
}
