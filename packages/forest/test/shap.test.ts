import { describe, expect, it } from 'vitest';
import {
  DecisionTreeClassifier,
  DecisionTreeRegressor,
  FlatTree,
  RandomForestClassifier,
  RandomForestRegressor,
  treeShap,
} from '../src/index';
import { blobs, friedman } from './fixtures';

/**
 * Brute-force Shapley values with the same value function TreeSHAP uses:
 * v(S) = E[f(x) | x_S], features outside S integrated out by following both
 * children in proportion to their training cover.
 */
function condExpectation(t: FlatTree, x: ArrayLike<number>, inS: boolean[], node = 0): number[] {
  const K = t.nOutputs;
  const f = t.feature[node];
  if (f < 0) return Array.from(t.value.subarray(node * K, node * K + K));
  const l = t.left[node], r = t.right[node];
  if (inS[f]) return condExpectation(t, x, inS, x[f] <= t.threshold[node] ? l : r);
  const a = condExpectation(t, x, inS, l), b = condExpectation(t, x, inS, r);
  const wl = t.cover[l] / t.cover[node], wr = t.cover[r] / t.cover[node];
  return a.map((v, k) => wl * v + wr * b[k]);
}

function bruteShap(trees: FlatTree[], x: ArrayLike<number>, M: number): number[][] {
  const K = trees[0].nOutputs;
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  const v = (mask: number): number[] => {
    const inS = Array.from({ length: M }, (_, i) => ((mask >> i) & 1) === 1);
    const out = new Array<number>(K).fill(0);
    for (const t of trees) condExpectation(t, x, inS).forEach((val, k) => (out[k] += val / trees.length));
    return out;
  };
  const phi = Array.from({ length: K }, () => new Array<number>(M).fill(0));
  for (let i = 0; i < M; i++) {
    for (let mask = 0; mask < 1 << M; mask++) {
      if ((mask >> i) & 1) continue;
      let size = 0;
      for (let j = 0; j < M; j++) size += (mask >> j) & 1;
      const weight = (fact(size) * fact(M - size - 1)) / fact(M);
      const with_ = v(mask | (1 << i)), without = v(mask);
      for (let k = 0; k < K; k++) phi[k][i] += weight * (with_[k] - without[k]);
    }
  }
  return phi;
}

/** Build a FlatTree from a nested description (preorder, left = node + 1). */
type Spec = { leaf: number[]; cover: number } | { f: number; t: number; cover: number; l: Spec; r: Spec };
function build(spec: Spec, K = 1): FlatTree {
  const feature: number[] = [], threshold: number[] = [], left: number[] = [], right: number[] = [];
  const value: number[] = [], cover: number[] = [];
  const visit = (s: Spec): number => {
    const id = feature.length;
    feature.push(-1), threshold.push(0), left.push(-1), right.push(-1), cover.push(s.cover);
    value.push(...new Array<number>(K).fill(0));
    if ('leaf' in s) {
      s.leaf.forEach((v, k) => (value[id * K + k] = v));
    } else {
      feature[id] = s.f;
      threshold[id] = s.t;
      left[id] = visit(s.l);
      right[id] = visit(s.r);
    }
    return id;
  };
  visit(spec);
  return new FlatTree(
    feature.length, K, Int32Array.from(feature), Float64Array.from(threshold), Int32Array.from(left),
    Int32Array.from(right), Float64Array.from(value), Float64Array.from(cover),
  );
}

const leaf = (v: number, cover: number): Spec => ({ leaf: [v], cover });

describe('treeShap on hand-built trees', () => {
  it('depth-1 stump: the split feature takes the whole difference', () => {
    const t = build({ f: 0, t: 0.5, cover: 4, l: leaf(1, 3), r: leaf(5, 1) });
    const [right, left] = treeShap(t, [[0.9, 0], [0.1, 7]]);
    expect(right.baseValue).toBe(2); // (3*1 + 1*5) / 4
    expect(Array.from(right.contributions)).toEqual([3, 0]);
    expect(Array.from(left.contributions)).toEqual([-1, 0]);
  });

  it('depth-2 tree on 2 features matches the hand-computed Shapley values', () => {
    //            x0 <= .5 (8)
    //     x1 <= .5 (4)     x1 <= .5 (4)
    //    10 (2)  20 (2)   30 (1)  40 (3)
    const t = build({
      f: 0, t: 0.5, cover: 8,
      l: { f: 1, t: 0.5, cover: 4, l: leaf(10, 2), r: leaf(20, 2) },
      r: { f: 1, t: 0.5, cover: 4, l: leaf(30, 1), r: leaf(40, 3) },
    });
    // x = (0, 1) lands in leaf 20. v({}) = 26.25, v({0}) = 15, v({1}) = 30, v({0,1}) = 20.
    // phi0 = ((15 - 26.25) + (20 - 30)) / 2 = -10.625; phi1 = ((30 - 26.25) + (20 - 15)) / 2 = 4.375.
    const [s] = treeShap(t, [[0, 1]]);
    expect(s.baseValue).toBe(26.25);
    expect(s.contributions[0]).toBeCloseTo(-10.625, 12);
    expect(s.contributions[1]).toBeCloseTo(4.375, 12);
    for (const x of [[0, 0], [0, 1], [1, 0], [1, 1], [0.5, 0.5]]) {
      const got = treeShap(t, [x])[0].contributions;
      const want = bruteShap([t], x, 2)[0];
      for (let f = 0; f < 2; f++) expect(Math.abs(got[f] - want[f])).toBeLessThan(1e-9);
    }
  });

  it('a feature split twice on one path (unwind) matches brute force', () => {
    const t = build({
      f: 0, t: 0.5, cover: 20,
      l: {
        f: 1, t: 0.3, cover: 12,
        l: { f: 0, t: 0.2, cover: 5, l: leaf(-3, 2), r: { f: 2, t: 0.5, cover: 3, l: leaf(4, 1), r: leaf(9, 2) } },
        r: leaf(1, 7),
      },
      r: { f: 0, t: 0.8, cover: 8, l: { f: 1, t: 0.6, cover: 6, l: leaf(2, 4), r: leaf(12, 2) }, r: leaf(-7, 2) },
    });
    for (const x of [[0.1, 0.1, 0.9], [0.3, 0.2, 0.1], [0.3, 0.2, 0.9], [0.7, 0.9, 0], [0.9, 0, 0], [0.6, 0.4, 0.6]]) {
      const [s] = treeShap(t, [x]);
      const want = bruteShap([t], x, 3)[0];
      for (let f = 0; f < 3; f++) expect(Math.abs(s.contributions[f] - want[f])).toBeLessThan(1e-9);
      const fx = t.value[t.leafOf(Float64Array.from(x), 0)];
      expect(Math.abs(s.baseValue + s.contributions.reduce((a, b) => a + b, 0) - fx)).toBeLessThan(1e-9);
    }
  });
});

describe('treeShap on fitted models', () => {
  it('DecisionTreeRegressor: equals brute-force Shapley values', () => {
    const { X, y } = friedman(300, 5, 21);
    const m = new DecisionTreeRegressor({ maxDepth: 6, seed: 1 }).fit(X, y);
    const probe = friedman(15, 5, 22).X;
    const res = treeShap(m, probe);
    const pred = m.predict(probe);
    res.forEach((s, r) => {
      const x = probe.subarray(r * 5, r * 5 + 5);
      const want = bruteShap([m.tree], x, 5)[0];
      for (let f = 0; f < 5; f++) expect(Math.abs(s.contributions[f] - want[f])).toBeLessThan(1e-9);
      expect(Math.abs(s.baseValue + s.contributions.reduce((a, b) => a + b, 0) - pred[r])).toBeLessThan(1e-9);
      expect(s.output).toBe(0);
    });
  });

  it('DecisionTreeClassifier: one set of values per class, each matching brute force', () => {
    const { X, y } = blobs(300, 4, 3, 5, 2.5);
    const m = new DecisionTreeClassifier({ maxDepth: 5, seed: 1 }).fit(X, y);
    const probe = blobs(10, 4, 3, 6, 3).X;
    const res = treeShap(m, probe);
    const proba = m.predictProba(probe);
    const pred = m.predict(probe);
    res.forEach((s, r) => {
      const want = bruteShap([m.tree], probe.subarray(r * 4, r * 4 + 4), 4);
      expect(s.shapValues.length).toBe(3);
      for (let k = 0; k < 3; k++) {
        for (let f = 0; f < 4; f++) expect(Math.abs(s.shapValues[k][f] - want[k][f])).toBeLessThan(1e-9);
        const total = s.baseValues[k] + s.shapValues[k].reduce((a, b) => a + b, 0);
        expect(Math.abs(total - proba[r * 3 + k])).toBeLessThan(1e-9);
      }
      expect(s.output).toBe(pred[r]); // default: explain the predicted class
      expect(s.contributions).toBe(s.shapValues[pred[r]]);
    });
    expect(treeShap(m, probe, { output: 2 })[0].baseValue).toBe(res[0].baseValues[2]);
  });

  it('RandomForestRegressor: additive and equal to the mean of per-tree brute force', () => {
    const { X, y } = friedman(400, 4, 31);
    const m = new RandomForestRegressor({ nEstimators: 8, maxDepth: 5, seed: 3 }).fit(X, y);
    const probe = friedman(6, 4, 32).X;
    const pred = m.predict(probe);
    treeShap(m, probe).forEach((s, r) => {
      const want = bruteShap([...m.trees], probe.subarray(r * 4, r * 4 + 4), 4)[0];
      for (let f = 0; f < 4; f++) expect(Math.abs(s.contributions[f] - want[f])).toBeLessThan(1e-9);
      expect(Math.abs(s.baseValue + s.contributions.reduce((a, b) => a + b, 0) - pred[r])).toBeLessThan(1e-9);
    });
  });

  it('RandomForestClassifier (full depth): base + contributions = probability of every class', () => {
    const { X, y } = blobs(500, 6, 3, 41, 2);
    const m = new RandomForestClassifier({ nEstimators: 30, seed: 4 }).fit(X, y);
    const probe = blobs(40, 6, 3, 42, 3).X;
    const proba = m.predictProba(probe);
    treeShap(m, probe).forEach((s, r) => {
      for (let k = 0; k < 3; k++) {
        const total = s.baseValues[k] + s.shapValues[k].reduce((a, b) => a + b, 0);
        expect(Math.abs(total - proba[r * 3 + k])).toBeLessThan(1e-9);
      }
      // Base values are the training class shares seen by the trees: they sum to 1.
      expect(s.baseValues.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    });
  });

  it('works on a model loaded from JSON', () => {
    const { X, y } = friedman(200, 4, 51);
    const m = new RandomForestRegressor({ nEstimators: 5, seed: 1 }).fit(X, y);
    const back = RandomForestRegressor.fromJSON(JSON.stringify(m));
    const probe = X.subarray(0, 40);
    const a = treeShap(m, probe), b = treeShap(back, probe);
    a.forEach((s, r) => expect(Array.from(b[r].contributions)).toEqual(Array.from(s.contributions)));
  });
});
