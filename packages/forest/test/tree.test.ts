import { describe, expect, it } from 'vitest';
import {
  DecisionTreeClassifier,
  DecisionTreeRegressor,
  ForestInputError,
  ForestNotFittedError,
  ForestParamError,
  RandomForestClassifier,
} from '../src/index';
import { SplitSearch } from '../src/split';
import { presort } from '../src/builder';
import { resolveMaxFeatures } from '../src/params';
import { blobs, rows } from './fixtures';

describe('DecisionTreeClassifier structure', () => {
  it('splits a 1-D step at the midpoint with pure leaves', () => {
    const X = [[1], [2], [3], [4], [5], [6]];
    const t = new DecisionTreeClassifier({ seed: 1 }).fit(X, [0, 0, 0, 1, 1, 1]).tree;
    expect(t.nNodes).toBe(3);
    expect(t.feature[0]).toBe(0);
    expect(t.threshold[0]).toBe(3.5);
    expect(t.left[0]).toBe(1);
    expect(Array.from(t.value.subarray(2, 4))).toEqual([1, 0]); // left leaf, node 1
    expect(Array.from(t.value.subarray(4, 6))).toEqual([0, 1]); // right leaf, node 2
    expect(Array.from(t.cover)).toEqual([6, 3, 3]);
    expect(Array.from(t.value.subarray(0, 2))).toEqual([0.5, 0.5]);
  });

  it('learns XOR: root on one feature at 0.5, both children on the other', () => {
    const X: number[][] = [];
    const y: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      for (const [a, b] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
        X.push([a, b]);
        y.push(a ^ b);
      }
    }
    const m = new DecisionTreeClassifier({ seed: 3 }).fit(X, y);
    const t = m.tree;
    expect(t.nNodes).toBe(7);
    expect(t.maxDepth()).toBe(2);
    const root = t.feature[0];
    expect(t.threshold[0]).toBe(0.5);
    expect(t.feature[t.left[0]]).toBe(1 - root);
    expect(t.feature[t.right[0]]).toBe(1 - root);
    expect(t.threshold[t.left[0]]).toBe(0.5);
    expect(Array.from(m.predict([[0, 0], [0, 1], [1, 0], [1, 1]]))).toEqual([0, 1, 1, 0]);
  });

  it('picks the split with the lowest weighted gini (hand-computed)', () => {
    // x = 1..4, y = 0 0 1 0. Candidates (sum of w*gini over children):
    //   after x=1: 0 + 3*(1 - (4+1)/9) = 4/3;  after x=2: 0 + 2*0.5 = 1;  after x=3: 3*(4/9) + 0 = 4/3.
    const t = new DecisionTreeClassifier({ seed: 0 }).fit([[1], [2], [3], [4]], [0, 0, 1, 0]).tree;
    expect(t.threshold[0]).toBe(2.5);
    const right = t.right[0];
    expect(t.threshold[right]).toBe(3.5);
    expect(Array.from(t.value.subarray(right * 2, right * 2 + 2))).toEqual([0.5, 0.5]);
  });

  it('split scan proxy equals W - sum of weighted child gini', () => {
    const Xc = Float64Array.from([1, 2, 3, 4]);
    const y = Int32Array.from([0, 0, 1, 0]);
    const sorted = presort(Xc, 4, 1);
    const s = new SplitSearch(Xc, 4, sorted, 4, new Float64Array(4).fill(1), y, null, 2, 1);
    s.scanGini(0, 0, 4, Float64Array.from([3, 1, 4]), 4);
    expect(s.bestPos).toBe(1);
    expect(s.threshold()).toBe(2.5);
    // root weighted gini 4 * (1 - 10/16) = 1.5; children: 2*0 + 2*0.5 = 1; proxy = W - 1 = 3.
    expect(s.bestProxy).toBeCloseTo(3, 12);
    // Weighted impurity decrease 1.5 - 1 = 0.5 = proxy - sum(c^2)/W = 3 - 10/4.
    expect(s.bestProxy - 10 / 4).toBeCloseTo(0.5, 12);
  });

  it('entropy criterion isolates the minority in the same place', () => {
    const t = new DecisionTreeClassifier({ criterion: 'entropy', seed: 0 }).fit([[1], [2], [3], [4]], [0, 0, 1, 0]).tree;
    expect(t.threshold[0]).toBe(2.5);
  });

  it('respects maxDepth, minSamplesLeaf and minSamplesSplit', () => {
    const { X, y } = blobs(400, 4, 3, 7, 3);
    const deep = new DecisionTreeClassifier({ seed: 1 }).fit(X, y).tree;
    expect(deep.maxDepth()).toBeGreaterThan(3);
    expect(new DecisionTreeClassifier({ maxDepth: 3, seed: 1 }).fit(X, y).tree.maxDepth()).toBeLessThanOrEqual(3);

    const leafy = new DecisionTreeClassifier({ minSamplesLeaf: 10, seed: 1 }).fit(X, y).tree;
    for (let i = 0; i < leafy.nNodes; i++) if (leafy.feature[i] < 0) expect(leafy.cover[i]).toBeGreaterThanOrEqual(10);

    const split = new DecisionTreeClassifier({ minSamplesSplit: 50, seed: 1 }).fit(X, y).tree;
    for (let i = 0; i < split.nNodes; i++) if (split.feature[i] >= 0) expect(split.cover[i]).toBeGreaterThanOrEqual(50);
  });

  it('fits the training set exactly when rows are distinct', () => {
    const { X, y } = blobs(300, 5, 4, 11, 2);
    const m = new DecisionTreeClassifier({ seed: 2 }).fit(X, y);
    expect(Array.from(m.predict(X))).toEqual(Array.from(y));
    const p = m.predictProba(X);
    expect(p.length).toBe(300 * 4);
    expect(m.classes).toEqual([0, 1, 2, 3]);
  });

  it('treats flat Float64Array and number[][] input the same', () => {
    const { X, y } = blobs(200, 3, 2, 5);
    const a = new DecisionTreeClassifier({ seed: 9 }).fit(X, y);
    const b = new DecisionTreeClassifier({ seed: 9 }).fit(rows(X, 3), Array.from(y));
    expect(JSON.stringify(a.toJSON())).toBe(JSON.stringify(b.toJSON()));
    expect(Array.from(a.predictProba(rows(X, 3)))).toEqual(Array.from(b.predictProba(X)));
  });

  it('gives constant features zero importance and the informative one all of it', () => {
    const X: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 50; i++) {
      X.push([7, i, 7]);
      y.push(i < 20 ? 0 : 1);
    }
    const m = new DecisionTreeClassifier({ seed: 0 }).fit(X, y);
    expect(Array.from(m.featureImportances)).toEqual([0, 1, 0]);
    expect(m.tree.nNodes).toBe(3);
    expect(m.tree.threshold[0]).toBe(19.5);
  });
});

describe('DecisionTreeRegressor', () => {
  it('leaf values are the means of their rows', () => {
    const m = new DecisionTreeRegressor({ maxDepth: 1, seed: 0 }).fit(
      [[1], [2], [3], [4], [5], [6]],
      [1, 1, 1, 10, 10, 12],
    );
    const t = m.tree;
    expect(t.threshold[0]).toBe(3.5);
    expect(t.value[1]).toBe(1);
    expect(t.value[2]).toBeCloseTo(32 / 3, 12);
    expect(t.value[0]).toBeCloseTo(35 / 6, 12);
    expect(Array.from(m.predict([[0], [3.5], [3.6], [100]]))).toEqual([1, 1, t.value[2], t.value[2]]);
  });

  it('picks the variance-reducing split (hand-computed)', () => {
    // y = 0, 0, 10, 11 on x = 1..4: splitting after x=2 leaves SSE 0 + 0.5 (best).
    const t = new DecisionTreeRegressor({ maxDepth: 1, seed: 0 }).fit([[1], [2], [3], [4]], [0, 0, 10, 11]).tree;
    expect(t.threshold[0]).toBe(2.5);
    expect(t.value[2]).toBe(10.5);
  });

  it('interpolates a smooth function with full depth', () => {
    const X: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 200; i++) {
      X.push([i / 200]);
      y.push(Math.sin(6 * (i / 200)));
    }
    const m = new DecisionTreeRegressor({ seed: 0 }).fit(X, y);
    const p = m.predict(X);
    for (let i = 0; i < 200; i++) expect(p[i]).toBeCloseTo(y[i], 12);
  });
});

describe('input validation', () => {
  const ok = [[1, 2], [3, 4], [5, 6]];
  it('rejects empty X and y', () => {
    expect(() => new DecisionTreeClassifier().fit([], [])).toThrow(ForestInputError);
    expect(() => new DecisionTreeClassifier().fit(new Float64Array(0), [])).toThrow(ForestInputError);
  });
  it('rejects NaN and Infinity with the position', () => {
    try {
      new RandomForestClassifier().fit([[1, 2], [NaN, 4]], [0, 1]);
      throw new Error('no throw');
    } catch (e) {
      expect(e).toBeInstanceOf(ForestInputError);
      expect((e as ForestInputError).code).toBe('FOREST_INPUT');
      expect((e as Error).message).toContain('X[1][0]');
    }
    expect(() => new DecisionTreeRegressor().fit([[1], [Infinity]], [0, 1])).toThrow(ForestInputError);
    expect(() => new DecisionTreeRegressor().fit([[1], [2]], [0, NaN])).toThrow(ForestInputError);
  });
  it('rejects mismatched lengths and ragged rows', () => {
    expect(() => new DecisionTreeClassifier().fit(ok, [0, 1])).toThrow(/3 rows but y has 2/);
    expect(() => new DecisionTreeClassifier().fit(new Float64Array(5), [0, 1])).toThrow(ForestInputError);
    expect(() => new DecisionTreeClassifier().fit([[1, 2], [3]], [0, 1])).toThrow(/row 1/);
  });
  it('rejects non-integer or negative class codes', () => {
    expect(() => new DecisionTreeClassifier().fit(ok, [0, 1.5, 1])).toThrow(ForestInputError);
    expect(() => new DecisionTreeClassifier().fit(ok, [0, -1, 1])).toThrow(ForestInputError);
  });
  it('rejects predict before fit and wrong feature counts', () => {
    expect(() => new RandomForestClassifier().predict(ok)).toThrow(ForestNotFittedError);
    const m = new DecisionTreeClassifier().fit(ok, [0, 1, 1]);
    expect(() => m.predict([[1, 2, 3]])).toThrow(ForestInputError);
    expect(() => m.predict(new Float64Array(3))).toThrow(ForestInputError);
    expect(() => m.predict([[NaN, 1]])).toThrow(ForestInputError);
  });
  it('rejects bad parameters with FOREST_PARAM', () => {
    const bad: Array<() => unknown> = [
      () => new RandomForestClassifier({ nEstimators: 0 }),
      () => new RandomForestClassifier({ maxDepth: -1 }),
      () => new RandomForestClassifier({ minSamplesSplit: 1 }),
      () => new RandomForestClassifier({ minSamplesLeaf: 0 }),
      () => new RandomForestClassifier({ maxFeatures: 0 }),
      () => new RandomForestClassifier({ maxFeatures: 2.5 }),
      () => new RandomForestClassifier({ criterion: 'mse' as never }),
      () => new DecisionTreeRegressor({ criterion: 'gini' as never }),
      () => new RandomForestClassifier({ oobScore: true, bootstrap: false }),
      () => new RandomForestClassifier({ seed: -3 }),
    ];
    for (const f of bad) {
      try {
        f();
        throw new Error('no throw');
      } catch (e) {
        expect(e).toBeInstanceOf(ForestParamError);
        expect((e as ForestParamError).code).toBe('FOREST_PARAM');
      }
    }
  });
  it('resolves maxFeatures like sklearn', () => {
    expect(resolveMaxFeatures('sqrt', 64)).toBe(8);
    expect(resolveMaxFeatures('sqrt', 20)).toBe(4);
    expect(resolveMaxFeatures('log2', 20)).toBe(4);
    expect(resolveMaxFeatures(1, 20)).toBe(20);
    expect(resolveMaxFeatures(0.3, 20)).toBe(6);
    expect(resolveMaxFeatures(0.01, 20)).toBe(1);
    expect(resolveMaxFeatures(5, 20)).toBe(5);
    expect(resolveMaxFeatures(50, 20)).toBe(20);
    expect(resolveMaxFeatures('all', 20)).toBe(20);
  });
});
