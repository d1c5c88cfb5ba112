import { describe, expect, it } from 'vitest';
import {
  DecisionTreeClassifier,
  DecisionTreeRegressor,
  ForestAbortError,
  ForestFormatError,
  ForestParamError,
  loadModel,
  RandomForestClassifier,
  RandomForestRegressor,
} from '../src/index';
import { accuracy, blobs, friedman } from './fixtures';

describe('RandomForestClassifier', () => {
  it('is deterministic given a seed and differs across seeds', () => {
    const { X, y } = blobs(300, 6, 3, 1);
    const a = new RandomForestClassifier({ nEstimators: 20, seed: 42 }).fit(X, y);
    const b = new RandomForestClassifier({ nEstimators: 20, seed: 42 }).fit(X, y);
    const c = new RandomForestClassifier({ nEstimators: 20, seed: 43 }).fit(X, y);
    expect(JSON.stringify(a.toJSON())).toBe(JSON.stringify(b.toJSON()));
    expect(JSON.stringify(a.toJSON())).not.toBe(JSON.stringify(c.toJSON()));
    expect(a.seed).toBe(42);
  });

  it('records the random seed it drew so a fit can be replayed', () => {
    const { X, y } = blobs(200, 4, 2, 2);
    const a = new RandomForestClassifier({ nEstimators: 5 }).fit(X, y);
    const b = new RandomForestClassifier({ nEstimators: 5, seed: a.seed }).fit(X, y);
    expect(Array.from(b.predictProba(X))).toEqual(Array.from(a.predictProba(X)));
  });

  it('averages tree distributions: probabilities sum to 1 and beat a single tree on held-out data', () => {
    const { X, y } = blobs(1600, 8, 4, 3, 2.5);
    const nTrain = 1200, F = 8;
    const Xtr = X.subarray(0, nTrain * F), ytr = y.subarray(0, nTrain);
    const Xte = X.subarray(nTrain * F), yte = y.subarray(nTrain);
    const rf = new RandomForestClassifier({ nEstimators: 60, seed: 1 }).fit(Xtr, ytr);
    const dt = new DecisionTreeClassifier({ seed: 1 }).fit(Xtr, ytr);
    const p = rf.predictProba(Xte);
    for (let r = 0; r < 400; r++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += p[r * 4 + k];
      expect(s).toBeCloseTo(1, 12);
    }
    const accRf = accuracy(rf.predict(Xte), yte);
    const accDt = accuracy(dt.predict(Xte), yte);
    expect(accRf).toBeGreaterThan(accDt);
    // Hard, overlapping blobs: sklearn's RandomForestClassifier(60) scores 0.63-0.65 here, its tree 0.47.
    expect(accRf).toBeGreaterThan(0.6);
    expect(rf.trees.length).toBe(60);
  });

  it('does not crash when a row is in-bag for every tree (OOB score skips it)', () => {
    // One row: it is drawn by every bootstrap, so no tree has it out of bag.
    const one = new RandomForestClassifier({ nEstimators: 5, seed: 1, oobScore: true }).fit([[1, 2]], [0]);
    expect(one.oobScore).toBeNull();
    expect(Array.from(one.predict([[1, 2], [5, 5]]))).toEqual([0, 0]);
    // Two identical rows, two classes: a root leaf, in-bag everywhere for some rows.
    const two = new RandomForestClassifier({ nEstimators: 7, seed: 3, oobScore: true }).fit([[1], [1], [2]], [0, 1, 1]);
    expect(two.predict([[1], [2]]).length).toBe(2);
    const s = two.oobScore;
    expect(s === null || (s >= 0 && s <= 1)).toBe(true);
  });

  it('computes an OOB score close to held-out accuracy', () => {
    const { X, y } = blobs(1000, 5, 3, 8, 2.5);
    const rf = new RandomForestClassifier({ nEstimators: 50, seed: 2, oobScore: true }).fit(X, y);
    const test = blobs(1000, 5, 3, 8, 2.5); // same centres (same seed), fresh noise is not needed for a sanity range
    expect(rf.oobScore!).toBeGreaterThan(0.6);
    expect(rf.oobScore!).toBeLessThanOrEqual(1);
    expect(accuracy(rf.predict(test.X), test.y)).toBeGreaterThan(rf.oobScore! - 0.05);
  });

  it('reports progress after every tree', () => {
    const { X, y } = blobs(100, 3, 2, 4);
    const calls: Array<[number, number]> = [];
    new RandomForestClassifier({ nEstimators: 6, seed: 1 }).fit(X, y, { onProgress: (d, t) => calls.push([d, t]) });
    expect(calls).toEqual([[1, 6], [2, 6], [3, 6], [4, 6], [5, 6], [6, 6]]);
  });

  it('stops between trees when the signal aborts (sync fit, abort from onProgress)', () => {
    const { X, y } = blobs(100, 3, 2, 4);
    const ac = new AbortController();
    let done = 0;
    const m = new RandomForestClassifier({ nEstimators: 50, seed: 1 });
    expect(() =>
      m.fit(X, y, {
        signal: ac.signal,
        onProgress: (d) => {
          done = d;
          if (d === 3) ac.abort();
        },
      }),
    ).toThrow(ForestAbortError);
    expect(done).toBe(3);
    expect(m.isFitted).toBe(false);
  });

  it('fitAsync is cancellable from a timer within a second', async () => {
    const { X, y } = blobs(4000, 10, 2, 5, 3);
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(new Error('user cancelled')), 100);
    const m = new RandomForestClassifier({ nEstimators: 100000, seed: 1 });
    const err = await m.fitAsync(X, y, { signal: ac.signal }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ForestAbortError);
    expect((err as ForestAbortError).code).toBe('FOREST_ABORTED');
    expect((err as ForestAbortError).name).toBe('AbortError');
    expect(((err as ForestAbortError).cause as Error).message).toBe('user cancelled');
    expect(Date.now() - t0).toBeLessThan(1100);
  });

  it('fitAsync builds the same model as fit', async () => {
    const { X, y } = blobs(200, 4, 3, 6);
    const a = new RandomForestClassifier({ nEstimators: 10, seed: 5 }).fit(X, y);
    const b = await new RandomForestClassifier({ nEstimators: 10, seed: 5 }).fitAsync(X, y);
    expect(JSON.stringify(b.toJSON())).toBe(JSON.stringify(a.toJSON()));
  });

  it('fitAsync with worker threads builds the same model as a sequential fit', async () => {
    const { X, y } = blobs(600, 6, 3, 14);
    const seq = new RandomForestClassifier({ nEstimators: 12, seed: 8, oobScore: true }).fit(X, y);
    const seen: number[] = [];
    const par = await new RandomForestClassifier({ nEstimators: 12, seed: 8, oobScore: true }).fitAsync(X, y, {
      nJobs: 2,
      onProgress: (d, t) => {
        expect(t).toBe(12);
        seen.push(d);
      },
    });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(JSON.stringify(par)).toBe(JSON.stringify(seq));
    expect(par.oobScore).toBe(seq.oobScore);
  });

  it('worker fits abort too, and sync fit refuses nJobs > 1', async () => {
    const { X, y } = blobs(2000, 10, 2, 15, 3);
    const ac = new AbortController();
    const m = new RandomForestClassifier({ nEstimators: 5000, seed: 1 });
    const t0 = Date.now();
    const p = m.fitAsync(X, y, { nJobs: 2, signal: ac.signal, onProgress: (d) => d === 4 && ac.abort() });
    await expect(p).rejects.toBeInstanceOf(ForestAbortError);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(() => new RandomForestClassifier().fit(X, y, { nJobs: 2 })).toThrow(ForestParamError);
  });

  it('predicts 10,000 rows with 100 trees well under a second', () => {
    const { X, y } = blobs(2000, 20, 2, 9, 4);
    const rf = new RandomForestClassifier({ nEstimators: 100, seed: 1 }).fit(X, y);
    const big = blobs(10000, 20, 2, 10, 4).X;
    rf.predictProba(big.subarray(0, 2000)); // warm the JIT
    const t0 = performance.now();
    const p = rf.predictProba(big);
    const ms = performance.now() - t0;
    expect(p.length).toBe(20000);
    expect(ms).toBeLessThan(500);
  });
});

describe('RandomForestRegressor', () => {
  it('tracks a nonlinear function and beats a single tree', () => {
    const tr = friedman(2000, 8, 1);
    const te = friedman(500, 8, 2, 0);
    const rf = new RandomForestRegressor({ nEstimators: 50, seed: 1, oobScore: true }).fit(tr.X, tr.y);
    const dt = new DecisionTreeRegressor({ seed: 1 }).fit(tr.X, tr.y);
    const mse = (p: Float64Array) => p.reduce((s, v, i) => s + (v - te.y[i]) ** 2, 0) / te.y.length;
    const rfMse = mse(rf.predict(te.X));
    expect(rfMse).toBeLessThan(mse(dt.predict(te.X)));
    expect(rfMse).toBeLessThan(3);
    expect(rf.oobScore!).toBeGreaterThan(0.8);
    // Default maxFeatures for the regressor is all features (sklearn 1.2).
    expect(rf.params.maxFeatures).toBe('all');
  });

  it('with one tree, no bootstrap and all features it equals a DecisionTreeRegressor', () => {
    const { X, y } = friedman(300, 5, 4);
    const rf = new RandomForestRegressor({ nEstimators: 1, bootstrap: false, seed: 7 }).fit(X, y);
    const dt = new DecisionTreeRegressor({ seed: 7 }).fit(X, y);
    // Tree seeds are drawn from the master stream in both, so the trees are the same.
    expect(Array.from(rf.predict(X))).toEqual(Array.from(dt.predict(X)));
  });
});

describe('serialisation', () => {
  it('round-trips every model kind through JSON text and predicts identically', () => {
    const c = blobs(400, 6, 3, 12);
    const r = friedman(400, 6, 13);
    const models = [
      new DecisionTreeClassifier({ seed: 1 }).fit(c.X, c.y),
      new RandomForestClassifier({ nEstimators: 15, seed: 1, oobScore: true }).fit(c.X, c.y),
      new DecisionTreeRegressor({ seed: 1 }).fit(r.X, r.y),
      new RandomForestRegressor({ nEstimators: 15, seed: 1 }).fit(r.X, r.y),
    ];
    const probe = blobs(300, 6, 3, 99, 4).X;
    for (const m of models) {
      const text = JSON.stringify(m);
      const back = loadModel(text);
      expect(back.kind).toBe(m.kind);
      expect(back.constructor).toBe(m.constructor);
      expect(Array.from(back.predict(probe))).toEqual(Array.from(m.predict(probe)));
      expect(Array.from(back.featureImportances)).toEqual(Array.from(m.featureImportances));
      for (let t = 0; t < m.trees.length; t++) {
        expect(Array.from(back.trees[t].cover)).toEqual(Array.from(m.trees[t].cover));
        expect(Array.from(back.trees[t].threshold)).toEqual(Array.from(m.trees[t].threshold));
        expect(Array.from(back.trees[t].right)).toEqual(Array.from(m.trees[t].right));
      }
    }
    const rf = models[1] as RandomForestClassifier;
    const rf2 = RandomForestClassifier.fromJSON(JSON.stringify(rf));
    expect(Array.from(rf2.predictProba(probe))).toEqual(Array.from(rf.predictProba(probe)));
    expect(rf2.oobScore).toBe(rf.oobScore);
  });

  it('rejects foreign or damaged JSON with FOREST_FORMAT', () => {
    const { X, y } = blobs(100, 3, 2, 1);
    const json = new RandomForestClassifier({ nEstimators: 3, seed: 1 }).fit(X, y).toJSON();
    expect(() => RandomForestRegressor.fromJSON(json)).toThrow(ForestFormatError);
    expect(() => loadModel('{"format":"other"}')).toThrow(ForestFormatError);
    expect(() => loadModel('not json')).toThrow(ForestFormatError);
    const damaged = { ...json, trees: [{ ...json.trees[0], right: 'AAAA' }] };
    try {
      loadModel(damaged);
      throw new Error('no throw');
    } catch (e) {
      expect((e as ForestFormatError).code).toBe('FOREST_FORMAT');
    }
  });

  it('is compact: base64 arrays, left children implied', () => {
    const { X, y } = blobs(1000, 10, 2, 1, 3);
    const m = new RandomForestClassifier({ nEstimators: 10, seed: 1 }).fit(X, y);
    const nodes = m.trees.reduce((s, t) => s + t.nNodes, 0);
    const bytes = JSON.stringify(m).length;
    expect(bytes / nodes).toBeLessThan(45);
  });
});
