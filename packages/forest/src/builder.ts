/**
 * Grows one tree. Layout and algorithm:
 *
 * - X is column-major. Once per fit every feature's rows are argsorted
 *   (`presort`). Per tree, the rows with nonzero bootstrap weight are copied
 *   out of those lists in order, so each feature has a sorted list of the
 *   in-bag rows (stride m = in-bag count).
 * - A node owns the same index range [s, e) in every feature's list, and that
 *   range holds exactly the node's rows sorted by that feature. A split scans
 *   a few of those ranges (split.ts), then stably partitions the other
 *   features' ranges into left rows | right rows, which keeps both children
 *   sorted. No per-node sorting: each level costs O(rows * features), and
 *   depth ~ log(rows) gives the n log n scaling.
 * - A feature constant inside a node stays constant in every descendant, so
 *   it is dropped from that subtree's active list: it is neither scanned nor
 *   partitioned below (this matters a lot on image-like data).
 * - Depth-first with an explicit stack; left child is pushed last so it is
 *   popped first, which makes left[node] = node + 1 and children always
 *   numbered after their parent.
 */
import { FlatTree } from './nodes';
import { Prng } from './prng';
import { SplitSearch, xlogx } from './split';

// Local copy of split.ts's FEATURE_THRESHOLD: imported bindings can compile to
// getter calls under tsx, which is measurable in the partition loop.
const FEATURE_THRESHOLD = 1e-7;

export type ClassificationCriterion = 'gini' | 'entropy';
export type RegressionCriterion = 'squared_error';
export type Criterion = ClassificationCriterion | RegressionCriterion;

export interface GrowParams {
  maxDepth: number;
  minSamplesSplit: number;
  minSamplesLeaf: number;
  /** Resolved count, 1..nFeatures. */
  maxFeatures: number;
  criterion: Criterion;
}

export interface TrainingSet {
  /** Column-major n x nFeatures. */
  X: Float64Array;
  n: number;
  nFeatures: number;
  /** Classification: class codes and class count. */
  yc: Int32Array | null;
  /** Regression targets. */
  yr: Float64Array | null;
  nClasses: number;
}

export interface GrownTree {
  tree: FlatTree;
  /** Unnormalised mean-decrease-in-impurity per feature (weighted by node weight). */
  importances: Float64Array;
}

/** Node impurity below this is treated as pure (sklearn uses machine epsilon). */
const PURE_EPSILON = 2.220446049250313e-16;

/**
 * Per-feature argsort of all rows: result[f*n + r] = r-th smallest row of
 * feature f, ties in row order (so fits are deterministic). Instead of a
 * comparator sort (a JS callback per comparison) we sort the raw values with
 * the native typed-array sort, rank every row by binary search over the
 * distinct values, and counting-sort rows by rank.
 */
export function presort(X: Float64Array, n: number, nFeatures: number): Int32Array {
  const out = new Int32Array(n * nFeatures);
  const vals = new Float64Array(n);
  const rank = new Int32Array(n);
  const start = new Int32Array(n + 1);
  for (let f = 0; f < nFeatures; f++) {
    const xo = f * n;
    vals.set(X.subarray(xo, xo + n));
    vals.sort();
    let u = 0; // distinct values, compacted to the front of vals
    for (let i = 0; i < n; i++) if (u === 0 || vals[i] !== vals[u - 1]) vals[u++] = vals[i];
    start.fill(0, 0, u + 1);
    for (let i = 0; i < n; i++) {
      const v = X[xo + i];
      let lo = 0, hi = u - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (vals[mid] < v) lo = mid + 1;
        else hi = mid;
      }
      rank[i] = lo;
      start[lo + 1]++;
    }
    for (let k = 0; k < u; k++) start[k + 1] += start[k];
    for (let i = 0; i < n; i++) out[xo + start[rank[i]]++] = i;
  }
  return out;
}

/**
 * Reusable tree grower for one training set: holds all scratch buffers so a
 * forest allocates them once, not per tree.
 */
export class TreeGrower {
  private readonly sorted: Int32Array;
  private readonly tmp: Int32Array;
  private readonly goLeft: Uint8Array;
  private readonly ones: Float64Array;
  private readonly search: SplitSearch;
  private readonly statsWidth: number;
  private readonly classification: boolean;
  private readonly nOutputs: number;

  // Explicit DFS stack, grown on demand. Slot t owns activePool[t*F, t*F+nActive[t])
  // and statsPool[t*statsWidth, ...).
  private stackCap = 0;
  private stStart: Int32Array = new Int32Array(0);
  private stEnd: Int32Array = new Int32Array(0);
  private stDepth: Int32Array = new Int32Array(0);
  private stParent: Int32Array = new Int32Array(0);
  private stIsLeft: Uint8Array = new Uint8Array(0);
  private stNActive: Int32Array = new Int32Array(0);
  private activePool: Int32Array = new Int32Array(0);
  private statsPool: Float64Array = new Float64Array(0);

  // Node arrays, grown on demand and copied out (trimmed) per tree.
  private nodeCap = 0;
  private nFeat: Int32Array = new Int32Array(0);
  private nThr: Float64Array = new Float64Array(0);
  private nLeft: Int32Array = new Int32Array(0);
  private nRight: Int32Array = new Int32Array(0);
  private nValue: Float64Array = new Float64Array(0);
  private nCover: Float64Array = new Float64Array(0);

  constructor(
    private readonly data: TrainingSet,
    private readonly presorted: Int32Array,
    private readonly params: GrowParams,
  ) {
    const { n, nFeatures } = data;
    this.classification = data.yc !== null;
    this.nOutputs = this.classification ? data.nClasses : 1;
    this.statsWidth = this.classification ? data.nClasses + 1 : 3;
    this.sorted = new Int32Array(n * nFeatures + 1);
    this.tmp = new Int32Array(n);
    this.goLeft = new Uint8Array(n);
    this.ones = new Float64Array(n).fill(1);
    this.search = new SplitSearch(
      data.X, n, this.sorted, n, this.ones, data.yc, data.yr, data.nClasses, params.minSamplesLeaf,
    );
    this.growStack(64);
    this.growNodes(256);
  }

  /**
   * Grow a tree on the rows with weight > 0 (weights: bootstrap counts, or
   * null for every row once).
   */
  grow(weights: Float64Array | null, rng: Prng): GrownTree {
    const { X, n, nFeatures: F } = this.data;
    const { maxDepth, minSamplesSplit, minSamplesLeaf, maxFeatures, criterion } = this.params;
    const w = weights ?? this.ones;
    const sorted = this.sorted, presorted = this.presorted, tmp = this.tmp, goLeft = this.goLeft;
    const SW = this.statsWidth, K = this.nOutputs, classification = this.classification;
    const importances = new Float64Array(F);

    // In-bag sorted lists, stride m.
    let m = 0;
    if (weights === null) {
      m = n;
      sorted.set(presorted);
      // (sorted has one spare slot at the end, see the filter below)
    } else {
      const inBag = this.goLeft; // free until the first split: reuse as 0/1 in-bag flags
      for (let i = 0; i < n; i++) {
        const b = w[i] > 0 ? 1 : 0;
        inBag[i] = b;
        m += b;
      }
      // Branchless filter: always write, advance only for in-bag rows. The
      // stray write past a feature's range lands at the start of the next
      // range before that is filled, or in the one spare slot at the end.
      for (let f = 0; f < F; f++) {
        const src = f * n;
        let j = f * m;
        for (let p = 0; p < n; p++) {
          const i = presorted[src + p];
          sorted[j] = i;
          j += inBag[i];
        }
      }
    }
    const search = this.search;
    search.sorted = sorted;
    search.m = m;
    search.w = w;

    // Root: active = features not constant over the in-bag rows; stats from any list.
    let nActive = 0;
    for (let f = 0; f < F; f++) {
      const base = f * m, xo = f * n;
      if (X[xo + sorted[base + m - 1]] > X[xo + sorted[base]] + FEATURE_THRESHOLD) {
        this.activePool[nActive++] = f;
      }
    }
    this.statsPool.fill(0, 0, SW);
    this.accumulateStats(0, m, 0, w, this.statsPool, 0);
    this.stStart[0] = 0;
    this.stEnd[0] = m;
    this.stDepth[0] = 0;
    this.stParent[0] = -1;
    this.stIsLeft[0] = 0;
    this.stNActive[0] = nActive;
    let top = 1;

    const cur = new Int32Array(F);
    const stats = new Float64Array(SW);
    let nNodes = 0;

    while (top > 0) {
      const t = --top;
      const s = this.stStart[t], e = this.stEnd[t], depth = this.stDepth[t];
      const parent = this.stParent[t], isLeft = this.stIsLeft[t];
      const na = this.stNActive[t];
      for (let j = 0; j < na; j++) cur[j] = this.activePool[t * F + j];
      for (let j = 0; j < SW; j++) stats[j] = this.statsPool[t * SW + j];
      const W = stats[SW - 1];

      if (nNodes === this.nodeCap) this.growNodes(this.nodeCap * 2);
      const node = nNodes++;
      if (parent >= 0) {
        if (isLeft) this.nLeft[parent] = node;
        else this.nRight[parent] = node;
      }
      this.nCover[node] = W;
      this.nFeat[node] = -1;
      this.nLeft[node] = -1;
      this.nRight[node] = -1;
      this.nThr[node] = 0;
      if (classification) {
        const inv = 1 / W;
        for (let k = 0; k < K; k++) this.nValue[node * K + k] = stats[k] * inv;
      } else {
        this.nValue[node] = stats[0] / W;
      }

      const nNode = e - s;
      const impurity = this.impurity(stats, 0);
      // na === 0 also marks children that the parent already knew would be leaves.
      if (
        na === 0 || depth >= maxDepth || nNode < minSamplesSplit ||
        nNode < 2 * minSamplesLeaf || impurity <= PURE_EPSILON
      ) {
        continue;
      }

      // Sample up to maxFeatures of the active (non-constant) features: partial Fisher-Yates.
      search.reset();
      const mtry = maxFeatures < na ? maxFeatures : na;
      for (let j = 0; j < mtry; j++) {
        const r = j + rng.int(na - j);
        const f = cur[r];
        cur[r] = cur[j];
        cur[j] = f;
        if (criterion === 'gini') search.scanGini(f, s, e, stats, W);
        else if (criterion === 'entropy') search.scanEntropy(f, s, e, stats, W);
        else search.scanMse(f, s, e, stats, W);
      }
      const bf = search.bestFeature;
      if (bf < 0) continue; // no valid split (minSamplesLeaf) -> leaf

      const bestPos = search.bestPos;
      this.nFeat[node] = bf;
      this.nThr[node] = search.threshold();

      // Children stats and left/right flags from the split feature's (sorted) range.
      const mid = bestPos + 1;
      if (top + 2 > this.stackCap) this.growStack(this.stackCap * 2);
      const tL = top + 1, tR = top; // left popped first
      const sp = this.statsPool;
      sp.fill(0, tR * SW, (tL + 1) * SW);
      const bb = bf * m;
      for (let p = s; p < mid; p++) goLeft[sorted[bb + p]] = 1;
      for (let p = mid; p < e; p++) goLeft[sorted[bb + p]] = 0;
      this.accumulateStats(s, mid, bb, w, sp, tL * SW);
      this.accumulateStats(mid, e, bb, w, sp, tR * SW);
      const impL = this.impurity(sp, tL * SW), impR = this.impurity(sp, tR * SW);
      const WL = sp[tL * SW + SW - 1], WR = sp[tR * SW + SW - 1];
      importances[bf] += W * impurity - WL * impL - WR * impR;

      const nL = mid - s, nR = e - mid;
      const leafL = depth + 1 >= maxDepth || nL < minSamplesSplit || nL < 2 * minSamplesLeaf || impL <= PURE_EPSILON;
      const leafR = depth + 1 >= maxDepth || nR < minSamplesSplit || nR < 2 * minSamplesLeaf || impR <= PURE_EPSILON;

      let naL = 0, naR = 0;
      if (!leafL || !leafR) {
        const ap = this.activePool;
        const oL = tL * F, oR = tR * F;
        for (let j = 0; j < na; j++) {
          const f = cur[j];
          const base = f * m, xo = f * n;
          if (f !== bf) {
            // Stable partition of [s, e): left rows in place, right rows via tmp.
            // Branchless: the goLeft pattern is data-dependent, so an if/else mispredicts ~half the time.
            let l = base + s, r = 0;
            for (let p = base + s, pe = base + e; p < pe; p++) {
              const i = sorted[p];
              const g = goLeft[i];
              sorted[l] = i;
              tmp[r] = i;
              l += g;
              r += 1 - g;
            }
            for (let q = 0; q < r; q++) sorted[l + q] = tmp[q];
          }
          if (!leafL && X[xo + sorted[base + mid - 1]] > X[xo + sorted[base + s]] + FEATURE_THRESHOLD) {
            ap[oL + naL++] = f;
          }
          if (!leafR && X[xo + sorted[base + e - 1]] > X[xo + sorted[base + mid]] + FEATURE_THRESHOLD) {
            ap[oR + naR++] = f;
          }
        }
      }

      this.stStart[tR] = mid;
      this.stEnd[tR] = e;
      this.stDepth[tR] = depth + 1;
      this.stParent[tR] = node;
      this.stIsLeft[tR] = 0;
      this.stNActive[tR] = naR;
      this.stStart[tL] = s;
      this.stEnd[tL] = mid;
      this.stDepth[tL] = depth + 1;
      this.stParent[tL] = node;
      this.stIsLeft[tL] = 1;
      this.stNActive[tL] = naL;
      top += 2;
    }

    const tree = new FlatTree(
      nNodes,
      K,
      this.nFeat.slice(0, nNodes),
      this.nThr.slice(0, nNodes),
      this.nLeft.slice(0, nNodes),
      this.nRight.slice(0, nNodes),
      this.nValue.slice(0, nNodes * K),
      this.nCover.slice(0, nNodes),
    );
    return { tree, importances };
  }

  /** Add rows sorted[base+s .. base+e) into out[o..o+statsWidth). */
  private accumulateStats(s: number, e: number, base: number, w: Float64Array, out: Float64Array, o: number): void {
    const sorted = this.sorted;
    let W = 0;
    if (this.classification) {
      const y = this.data.yc!;
      for (let p = base + s, pe = base + e; p < pe; p++) {
        const i = sorted[p];
        const wt = w[i];
        out[o + y[i]] += wt;
        W += wt;
      }
      out[o + this.statsWidth - 1] += W;
    } else {
      const y = this.data.yr!;
      let sum = 0, sq = 0;
      for (let p = base + s, pe = base + e; p < pe; p++) {
        const i = sorted[p];
        const wt = w[i], v = y[i];
        sum += wt * v;
        sq += wt * v * v;
        W += wt;
      }
      out[o] += sum;
      out[o + 1] += sq;
      out[o + 2] += W;
    }
  }

  /** Impurity of the stats block at out[o..]: gini, entropy (bits) or variance. */
  private impurity(st: Float64Array, o: number): number {
    const W = st[o + this.statsWidth - 1];
    if (!this.classification) {
      const mean = st[o] / W;
      const v = st[o + 1] / W - mean * mean;
      return v > 0 ? v : 0;
    }
    const K = this.nOutputs;
    if (this.params.criterion === 'entropy') {
      // H = ln W - (1/W) sum c ln c, reported in bits like sklearn.
      let acc = 0;
      for (let k = 0; k < K; k++) acc += xlogx(st[o + k]);
      const h = (Math.log(W) - acc / W) / Math.LN2;
      return h > 0 ? h : 0;
    }
    let sq = 0;
    for (let k = 0; k < K; k++) sq += st[o + k] * st[o + k];
    const g = 1 - sq / (W * W);
    return g > 0 ? g : 0;
  }

  private growStack(cap: number): void {
    const F = this.data.nFeatures, SW = this.statsWidth;
    const grow32 = (a: Int32Array, size: number): Int32Array => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.stStart = grow32(this.stStart, cap);
    this.stEnd = grow32(this.stEnd, cap);
    this.stDepth = grow32(this.stDepth, cap);
    this.stParent = grow32(this.stParent, cap);
    this.stNActive = grow32(this.stNActive, cap);
    const isLeft = new Uint8Array(cap);
    isLeft.set(this.stIsLeft);
    this.stIsLeft = isLeft;
    this.activePool = grow32(this.activePool, cap * F);
    const sp = new Float64Array(cap * SW);
    sp.set(this.statsPool);
    this.statsPool = sp;
    this.stackCap = cap;
  }

  private growNodes(cap: number): void {
    const K = this.nOutputs;
    const g32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    const g64 = (a: Float64Array, size: number): Float64Array => {
      const b = new Float64Array(size);
      b.set(a);
      return b;
    };
    this.nFeat = g32(this.nFeat);
    this.nLeft = g32(this.nLeft);
    this.nRight = g32(this.nRight);
    this.nThr = g64(this.nThr, cap);
    this.nCover = g64(this.nCover, cap);
    this.nValue = g64(this.nValue, cap * K);
    this.nodeCap = cap;
  }
}
