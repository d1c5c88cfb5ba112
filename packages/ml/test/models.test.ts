// Model fits compared with scikit-learn 1.2.1 on a small fixed data set
// (LogisticRegression fitted with tol=1e-12 so its coefficients are the exact optimum).
import * as tf from "@tensorflow/tfjs-core";
import { RandomForestClassifier } from "@millrace/forest";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, TrainingAbortedError } from "../src/index";
import { fitLinearRegression, linearExplain } from "../src/models/linear";
import { fitLogisticRegression } from "../src/models/logistic";
import { fitNeuralNetwork } from "../src/models/network";
import { fitTreeModel } from "../src/models/trees";
import type { TrainingSet } from "../src/models/types";

const X = [[1.79, 6.75, 2.05], [-1.86, 3.89, 1.82], [-0.08, 2.49, 1.98], [-0.48, -0.26, 2.44], [0.88, 11.84, 2.03], [-0.4, 2.82, 1.23], [0.98, 0.6, 1.41], [-0.21, 10.94, 2.12], [-1.02, 2.15, 2.31], [-0.16, 1.92, 1.88], [0.75, 12.9, 1.38], [-0.63, 1.78, 0.79], [-0.92, 0.9, 2.56], [-0.13, -1.49, 2.32], [-0.36, -1.97, 1.7], [-0.59, 1.5, 2.01], [-2.25, 3.93, 2.51], [0.85, 9.43, 2.56], [1.49, 0.53, 2.42], [-1.86, 2.59, 1.04], [1.05, 10.33, 1.9], [1.77, 2.3, 2.08], [0.15, 0.74, 2.22], [1.94, 0.9, 2.45], [-0.15, 12.08, 2.24], [0.68, 7.57, 2.12], [-1.4, 10.57, 1.31], [0.24, 7.46, 1.58], [0.15, 9.67, 1.99], [-0.89, -6.66, 1.51]];
const yb = [1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0];
const y3 = [2, 0, 1, 0, 0, 1, 2, 0, 0, 1, 0, 1, 1, 1, 2, 1, 0, 1, 2, 0, 0, 2, 2, 2, 0, 1, 0, 0, 0, 2];
const yr = [5.938, 2.161, 5.833, 8.794, 1.122, 3.201, 7.135, 0.38, 5.867, 6.255, -1.924, 2.194, 7.618, 9.548, 8.474, 6.081, 3.107, 4.636, 10.91, 0.591, 2.217, 9.155, 8.281, 11.522, 0.013, 3.757, -3.816, 1.85, 1.634, 9.983];

const data = (y: number[], nClasses: number): TrainingSet => ({
  X: Float64Array.from(X.flat()), nRows: X.length, nFeatures: 3, y: Float64Array.from(y), nClasses, featureNames: ["a", "b", "c"],
});
const expectClose = (got: ArrayLike<number>, want: number[], tol: number) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThan(tol));
};

beforeAll(async () => {
  await initBackend(undefined, { log: () => {} });
});

describe("linear regression (tfjs normal equations)", () => {
  it("matches sklearn LinearRegression", async () => {
    const m = await fitLinearRegression(data(yr, 0), {}, {});
    expectClose(m.coef, [1.482758164771292, -0.7023828114864245, 2.9372652070658125], 1e-4);
    expect(m.intercept).toBeCloseTo(2.1104011000473966, 3);
  });

  it("alpha matches sklearn Ridge(alpha=5)", async () => {
    const m = await fitLinearRegression(data(yr, 0), { alpha: 5 }, {});
    expectClose(m.coef, [1.4012655767382485, -0.6948297506788694, 1.6758186288930972], 1e-4);
    expect(m.intercept).toBeCloseTo(4.513419141426726, 3);
  });

  it("explains exactly: w_j (x_j − mean_j), base + Σ = prediction", async () => {
    const m = await fitLinearRegression(data(yr, 0), {}, {});
    const x = Float64Array.from(X[3]);
    const e = m.explain(x, 1);
    const means = [0, 1, 2].map((j) => X.reduce((s, r) => s + r[j], 0) / X.length);
    [0, 1, 2].forEach((j) => expect(e.phi[j]).toBeCloseTo(m.coef[j] * (x[j] - means[j]), 10));
    expect(e.base[0] + e.phi.reduce((a, b) => a + b, 0)).toBeCloseTo(m.predict(x, 1)[0], 10);
  });
});

describe("linearExplain", () => {
  const w = Float64Array.of(2, -3), means = Float64Array.of(0.1 + 0.2, 10);
  // 0.3 is 0.1 + 0.2 up to the last bit (5.6e-17 apart).
  const x = Float64Array.of(0.3, 11);

  it("gives a value within rounding of its mean exactly 0 when it has the features' spreads", () => {
    const e = linearExplain(x, 1, w, 1, means, "value", 1, Float64Array.of(1, 1));
    expect(e.phi[0]).toBe(0);
    expect(e.phi[1]).toBe(-3);
    expect(e.output[0]).toBe(e.base[0] - 3);
  });

  it("without spreads (a model stored before they were) it is w·(x − mean) as it was", () => {
    const e = linearExplain(x, 1, w, 1, means, "value");
    expect(e.phi[0]).toBe(2 * (0.3 - (0.1 + 0.2)));
    expect(e.phi[0]).not.toBe(0);
  });

  it("keeps a small real difference: the bound is relative to the feature's spread", () => {
    const e = linearExplain(Float64Array.of(0.3 + 1e-6, 10), 1, w, 1, Float64Array.of(0.3, 10), "value", 1, Float64Array.of(1e-3, 1));
    expect(e.phi[0]).toBeCloseTo(2e-6, 12);
  });
});

describe("logistic regression (tfjs loss/gradient, L-BFGS)", () => {
  it("binary, C=1 and C=0.3, matches sklearn coefficients", async () => {
    const m = await fitLogisticRegression(data(yb, 2), { C: 1 }, {});
    expectClose(m.coef, [0.9772700665372452, 0.7406035074210815, -0.7715161069997889], 2e-3);
    expect(m.intercept[0]).toBeCloseTo(-0.9170537278610926, 2);
    const P = m.predict(Float64Array.from(X.flat()), X.length);
    let correct = 0;
    for (let i = 0; i < X.length; i++) if ((P[2 * i + 1] > 0.5 ? 1 : 0) === yb[i]) correct++;
    expect(correct / X.length).toBeCloseTo(0.9, 10);
    const s = await fitLogisticRegression(data(yb, 2), { C: 0.3 }, {});
    expectClose(s.coef, [0.6136548783477878, 0.5834390359038988, -0.29514628520595587], 2e-3);
    expect(s.intercept[0]).toBeCloseTo(-1.456860305876018, 2);
    expect(s.predict(Float64Array.from(X[0]), 1)[1]).toBeCloseTo(0.9514200856081256, 3);
  });

  it("multinomial (softmax) matches sklearn", async () => {
    const m = await fitLogisticRegression(data(y3, 3), { C: 1 }, {});
    expectClose(m.coef, [-1.4302399652084317, 0.42224553608053633, 0.11975921950555271, -0.16472835865099558, 0.0012085056737317983, 0.0716401071319802, 1.594968323859426, -0.4234540417542695, -0.191399326637534], 3e-3);
    expectClose(m.intercept, [-1.714848039979882, 0.5311105422996072, 1.1837374976802768], 1e-2);
    expectClose(m.predict(Float64Array.from(X[0]), 1), [0.07715324633026754, 0.3710637491697072, 0.5517830045000254], 1e-3);
    expect(m.trainInfo?.converged).toBe(true);
  });

  it("explains in log-odds: base + Σ = log-odds of the explained class", async () => {
    const m = await fitLogisticRegression(data(yb, 2), { C: 1 }, {});
    const x = Float64Array.from(X[5]);
    const p1 = m.predict(x, 1)[1];
    const e1 = m.explain(x, 1, Int32Array.from([1]));
    expect(e1.output[0]).toBeCloseTo(Math.log(p1 / (1 - p1)), 8);
    expect(e1.base[0] + e1.phi.reduce((a, b) => a + b, 0)).toBeCloseTo(e1.output[0], 10);
    const e0 = m.explain(x, 1, Int32Array.from([0]));
    expect(e0.output[0]).toBeCloseTo(-e1.output[0], 10);
  });
});

describe("neural network (tfjs-layers)", () => {
  it("is seeded, learns, and leaks no tensors", async () => {
    const before = tf.memory().numTensors;
    const a = await fitNeuralNetwork(data(yr, 0), { hidden_layers: [16], epochs: 150, learning_rate: 0.02, batch_size: 8 }, { task: "regression", seed: 7 });
    const b = await fitNeuralNetwork(data(yr, 0), { hidden_layers: [16], epochs: 150, learning_rate: 0.02, batch_size: 8 }, { task: "regression", seed: 7 });
    const c = await fitNeuralNetwork(data(yr, 0), { hidden_layers: [16], epochs: 5 }, { task: "regression", seed: 8 });
    expect(tf.memory().numTensors).toBe(before);
    const Xf = Float64Array.from(X.flat());
    const pa = a.predict(Xf, X.length), pb = b.predict(Xf, X.length);
    expect(Array.from(pa)).toEqual(Array.from(pb));
    expect(Array.from(c.predict(Xf, X.length))).not.toEqual(Array.from(pa));
    const mean = yr.reduce((s, v) => s + v, 0) / yr.length;
    let ssr = 0, sst = 0;
    yr.forEach((y, i) => { ssr += (y - pa[i]) ** 2; sst += (y - mean) ** 2; });
    expect(1 - ssr / sst).toBeGreaterThan(0.95);
  });

  it("classifies with softmax and explains exactly (≤ 10 features: full enumeration)", async () => {
    const m = await fitNeuralNetwork(data(y3, 3), { hidden_layers: [16, 8], epochs: 60 }, { task: "classification", seed: 1 });
    const Xf = Float64Array.from(X.flat());
    const P = m.predict(Xf, X.length);
    for (let i = 0; i < X.length; i++) expect(P[3 * i] + P[3 * i + 1] + P[3 * i + 2]).toBeCloseTo(1, 10);
    const e = m.explain(Xf.subarray(0, 6), 2, Int32Array.from([2, 0]));
    expect(e.output[0]).toBeCloseTo(P[2], 10);
    expect(e.output[1]).toBeCloseTo(P[3], 10);
    for (let i = 0; i < 2; i++) expect(e.base[i] + e.phi[3 * i] + e.phi[3 * i + 1] + e.phi[3 * i + 2]).toBeCloseTo(e.output[i], 10);
  });

  it("stops between epochs when aborted", async () => {
    const ac = new AbortController();
    let epochs = 0;
    const p = fitNeuralNetwork(data(yr, 0), { epochs: 1000 }, {
      task: "regression", seed: 1, signal: ac.signal,
      onProgress: () => { if (++epochs === 3) ac.abort(); },
    });
    await expect(p).rejects.toBeInstanceOf(TrainingAbortedError);
    await expect(p).rejects.toMatchObject({ code: "ABORTED", retryable: false });
    expect(epochs).toBe(3);
  });
});

describe("trees via @millrace/forest", () => {
  it("random forest probabilities equal the forest's own, TreeSHAP adds up", async () => {
    const m = await fitTreeModel("random_forest", data(y3, 3), { n_estimators: 20, max_depth: 4 }, { task: "classification", seed: 3 });
    const Xf = Float64Array.from(X.flat());
    const direct = new RandomForestClassifier({ nEstimators: 20, maxDepth: 4, seed: 3 }).fit(Xf, Float64Array.from(y3));
    expect(Array.from(m.predict(Xf, X.length))).toEqual(Array.from(direct.predictProba(Xf)));
    const P = m.predict(Xf, X.length);
    const e = m.explain(Xf, X.length, Int32Array.from({ length: X.length }, (_, i) => i % 3));
    for (let i = 0; i < X.length; i++) {
      expect(e.output[i]).toBeCloseTo(P[3 * i + (i % 3)], 10);
      expect(e.base[i] + e.phi[3 * i] + e.phi[3 * i + 1] + e.phi[3 * i + 2]).toBeCloseTo(e.output[i], 10);
    }
  });

  it("aborts between trees", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(fitTreeModel("random_forest", data(yr, 0), {}, { task: "regression", seed: 1, signal: ac.signal })).rejects.toBeInstanceOf(TrainingAbortedError);
  });
});
