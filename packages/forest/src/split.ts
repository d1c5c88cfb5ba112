/**
 * Best-split scans. Each scan walks one feature's rows of a node in ascending
 * value order (a segment of the presorted index lists, see builder.ts), moving
 * one row at a time from the right child to the left child while keeping
 * running sufficient statistics, so every candidate threshold costs O(1):
 *
 *  - gini:    maximise sum_k cL_k^2 / wL + sum_k cR_k^2 / wR
 *             (= W - wL*giniL - wR*giniR up to the constant W)
 *  - entropy: maximise sum_k cL_k ln cL_k - wL ln wL + (same for right)
 *             (= -(wL*HL + wR*HR) in nats)
 *  - mse:     maximise sumL^2 / wL + sumR^2 / wR  (variance reduction)
 *
 * These are sklearn's "proxy impurity improvements": same argmax as the
 * weighted impurity decrease, without the per-candidate division work.
 */

/** sklearn's FEATURE_THRESHOLD: values closer than this are treated as tied. */
export const FEATURE_THRESHOLD = 1e-7;

export class SplitSearch {
  /** Best candidate so far in this node. feature -1 means none found. */
  bestProxy = -Infinity;
  bestFeature = -1;
  bestPos = -1;
  bestValue = 0;
  bestNextValue = 0;

  // Scratch class counts for the classification scans.
  private readonly cL: Float64Array;
  private readonly cR: Float64Array;

  constructor(
    /** Column-major features, n rows. */
    private readonly X: Float64Array,
    private readonly n: number,
    /** Per-feature sorted in-bag row lists, stride m. Rebound per tree. */
    public sorted: Int32Array,
    public m: number,
    /** Per-row sample weight (bootstrap count). Rebound per tree. */
    public w: Float64Array,
    private readonly yc: Int32Array | null,
    private readonly yr: Float64Array | null,
    private readonly nClasses: number,
    private readonly minLeaf: number,
  ) {
    this.cL = new Float64Array(Math.max(1, nClasses));
    this.cR = new Float64Array(Math.max(1, nClasses));
  }

  reset(): void {
    this.bestProxy = -Infinity;
    this.bestFeature = -1;
    this.bestPos = -1;
  }

  /** nodeStats: class counts (weighted) of rows in [s, e); W their sum. */
  scanGini(f: number, s: number, e: number, nodeStats: Float64Array, W: number): void {
    const K = this.nClasses, cL = this.cL, cR = this.cR;
    const sorted = this.sorted, X = this.X, w = this.w, y = this.yc!;
    let sqL = 0, sqR = 0;
    for (let k = 0; k < K; k++) {
      const c = nodeStats[k];
      cL[k] = 0;
      cR[k] = c;
      sqR += c * c;
    }
    const base = f * this.m, xo = f * this.n;
    const firstP = s + this.minLeaf - 1;
    const lastP = e - this.minLeaf - 1;
    let best = this.bestProxy, bestP = -1, bestV = 0, bestVN = 0;
    let wL = 0, wR = W;
    let i = sorted[base + s];
    let v = X[xo + i];
    for (let p = s; p <= lastP; p++) {
      const wt = w[i], k = y[i];
      let c = cL[k];
      sqL += wt * (2 * c + wt);
      cL[k] = c + wt;
      c = cR[k];
      sqR += wt * (wt - 2 * c);
      cR[k] = c - wt;
      wL += wt;
      wR -= wt;
      const iNext = sorted[base + p + 1];
      const vNext = X[xo + iNext];
      if (vNext > v + FEATURE_THRESHOLD && p >= firstP) {
        const proxy = sqL / wL + sqR / wR;
        if (proxy > best) {
          best = proxy;
          bestP = p;
          bestV = v;
          bestVN = vNext;
        }
      }
      i = iNext;
      v = vNext;
    }
    if (bestP >= 0) this.take(best, f, bestP, bestV, bestVN);
  }

  scanEntropy(f: number, s: number, e: number, nodeStats: Float64Array, W: number): void {
    const K = this.nClasses, cL = this.cL, cR = this.cR;
    const sorted = this.sorted, X = this.X, w = this.w, y = this.yc!;
    let eL = 0, eR = 0;
    for (let k = 0; k < K; k++) {
      const c = nodeStats[k];
      cL[k] = 0;
      cR[k] = c;
      eR += xlogx(c);
    }
    const base = f * this.m, xo = f * this.n;
    const firstP = s + this.minLeaf - 1;
    const lastP = e - this.minLeaf - 1;
    let best = this.bestProxy, bestP = -1, bestV = 0, bestVN = 0;
    let wL = 0, wR = W;
    let i = sorted[base + s];
    let v = X[xo + i];
    for (let p = s; p <= lastP; p++) {
      const wt = w[i], k = y[i];
      let c = cL[k];
      eL += xlogx(c + wt) - xlogx(c);
      cL[k] = c + wt;
      c = cR[k];
      eR += xlogx(c - wt) - xlogx(c);
      cR[k] = c - wt;
      wL += wt;
      wR -= wt;
      const iNext = sorted[base + p + 1];
      const vNext = X[xo + iNext];
      if (vNext > v + FEATURE_THRESHOLD && p >= firstP) {
        const proxy = eL + eR - xlogx(wL) - xlogx(wR);
        if (proxy > best) {
          best = proxy;
          bestP = p;
          bestV = v;
          bestVN = vNext;
        }
      }
      i = iNext;
      v = vNext;
    }
    if (bestP >= 0) this.take(best, f, bestP, bestV, bestVN);
  }

  /** nodeStats: [sum w*y, sum w*y^2, W]. */
  scanMse(f: number, s: number, e: number, nodeStats: Float64Array, W: number): void {
    const sorted = this.sorted, X = this.X, w = this.w, y = this.yr!;
    const total = nodeStats[0];
    const base = f * this.m, xo = f * this.n;
    const firstP = s + this.minLeaf - 1;
    const lastP = e - this.minLeaf - 1;
    let best = this.bestProxy, bestP = -1, bestV = 0, bestVN = 0;
    let sumL = 0, wL = 0;
    let i = sorted[base + s];
    let v = X[xo + i];
    for (let p = s; p <= lastP; p++) {
      const wt = w[i];
      sumL += wt * y[i];
      wL += wt;
      const iNext = sorted[base + p + 1];
      const vNext = X[xo + iNext];
      if (vNext > v + FEATURE_THRESHOLD && p >= firstP) {
        const sumR = total - sumL;
        const proxy = (sumL * sumL) / wL + (sumR * sumR) / (W - wL);
        if (proxy > best) {
          best = proxy;
          bestP = p;
          bestV = v;
          bestVN = vNext;
        }
      }
      i = iNext;
      v = vNext;
    }
    if (bestP >= 0) this.take(best, f, bestP, bestV, bestVN);
  }

  private take(proxy: number, f: number, p: number, v: number, vNext: number): void {
    this.bestProxy = proxy;
    this.bestFeature = f;
    this.bestPos = p;
    this.bestValue = v;
    this.bestNextValue = vNext;
  }

  /** Midpoint threshold, falling back to the lower value when rounding lands on the upper one. */
  threshold(): number {
    const v = this.bestValue, vNext = this.bestNextValue;
    const t = v / 2 + vNext / 2;
    return t >= vNext || !Number.isFinite(t) ? v : t;
  }
}

export function xlogx(x: number): number {
  return x > 0 ? x * Math.log(x) : 0;
}
