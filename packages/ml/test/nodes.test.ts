// Node-level numbers checked against scikit-learn 1.2 / scipy 1.10 (values
// computed with python3 and hard-coded here).
import { describe, expect, it } from "vitest";
import { frameFromRecords, runNode, type DataFrame } from "../src/index";
import { fitBoxCoxLambda } from "../src/nodes/transform";
import { chi2Scores, fClassifScores, fRegressionScores } from "../src/nodes/select";
import { splitRows } from "../src/nodes/split";

const close = (a: ArrayLike<number | null | unknown>, b: number[], digits = 10) => {
  expect(a.length).toBe(b.length);
  b.forEach((v, i) => expect(a[i] as number).toBeCloseTo(v, digits));
};

const numeric = (): DataFrame =>
  frameFromRecords(
    [{ a: 1, b: 10 }, { a: 2, b: 20 }, { a: 4, b: 15 }, { a: 8, b: 40 }, { a: 16, b: 5 }],
    [{ name: "a", type: "number" }, { name: "b", type: "number" }],
  );

describe("missing_values", () => {
  const f = () => frameFromRecords(
    [{ x: 1, c: "r" }, { x: null, c: "g" }, { x: 3, c: null }, { x: 10, c: "g" }, { x: null, c: "r" }, { x: 3, c: "b" }],
    [{ name: "x", type: "integer" }, { name: "c", type: "category" }],
  );

  it("mean / median / most_frequent match sklearn SimpleImputer (4.25, 3, 3)", async () => {
    const mean = await runNode({ node_type: "missing_values", input: { strategy: "mean" } }, f());
    expect(mean.frame.columns[0].values).toEqual([1, 4.25, 3, 10, 4.25, 3]);
    expect(mean.frame.columns[0].type).toBe("number");
    expect(mean.frame.columns[1].values).toContain(null); // mean leaves categories alone
    const med = await runNode({ node_type: "missing_values", input: { strategy: "median", columns: ["x"] } }, f());
    expect(med.frame.columns[0].values).toEqual([1, 3, 3, 10, 3, 3]);
    const mf = await runNode({ node_type: "missing_values", input: { strategy: "most_frequent" } }, f());
    expect(mf.frame.columns[0].values).toEqual([1, 3, 3, 10, 3, 3]);
    // 'g' and 'r' tie on 2: the smaller value wins, as in sklearn.
    expect(mf.frame.columns[1].values).toEqual(["r", "g", "g", "g", "r", "b"]);
  });

  it("constant and drop_rows", async () => {
    const c = await runNode({ node_type: "missing_values", input: { strategy: "constant", fill_value: -1, columns: ["x"] } }, f());
    expect(c.frame.columns[0].values).toEqual([1, -1, 3, 10, -1, 3]);
    const d = await runNode({ node_type: "missing_values", input: { strategy: "constant" } }, f());
    expect(d.frame.columns[1].values[2]).toBe("missing_value");
    const drop = await runNode({ node_type: "missing_values", input: { strategy: "drop_rows" } }, f());
    expect(drop.rows_out).toBe(3);
    expect(drop.frame.columns[0].values).toEqual([1, 10, 3]);
  });
});

describe("encode", () => {
  const f = () => frameFromRecords(
    [{ c: "red", y: 1 }, { c: "blue", y: 0 }, { c: "red", y: 1 }, { c: "green", y: 0 }, { c: "red", y: 0 }, { c: null, y: 1 }],
    [{ name: "c", type: "category" }, { name: "y", type: "integer" }],
  );

  it("one_hot: sorted categories named column=value, nulls stay missing", async () => {
    const r = await runNode({ node_type: "encode", input: { method: "one_hot", columns: ["c"] } }, f());
    expect(r.columns_out.map((c) => c.name)).toEqual(["c=blue", "c=green", "c=red", "y"]);
    expect(r.frame.columns[2].values).toEqual([1, 0, 1, 0, 1, null]);
  });

  it("label codes in sorted order; ordinal in the given order", async () => {
    const l = await runNode({ node_type: "encode", input: { method: "label" } }, f());
    expect(l.frame.columns[0].values).toEqual([2, 0, 2, 1, 2, null]);
    const o = await runNode({ node_type: "encode", input: { method: "ordinal", columns: ["c"], categories: { c: ["green", "red", "blue"] } } }, f());
    expect(o.frame.columns[0].values).toEqual([1, 2, 1, 0, 1, null]);
  });

  it("target: smoothed per-category mean (n·mean + m·prior)/(n + m)", async () => {
    const r = await runNode({ node_type: "encode", input: { method: "target", columns: ["c"], smoothing: 1 } }, f(), { target: "y", task: "regression" });
    const prior = 3 / 6; // mean of y over the rows
    const red = (2 + prior) / (3 + 1), blue = (0 + prior) / 2, green = (0 + prior) / 2;
    close(r.frame.columns[0].values.slice(0, 5) as number[], [red, blue, red, green, red]);
    // Binary classification: one column per positive class.
    const b = await runNode({ node_type: "encode", input: { method: "target", columns: ["c"] } }, f(), { target: "y", task: "classification" });
    expect(b.columns_out.map((c) => c.name)).toEqual(["c__1", "y"]);
    close(b.frame.columns[0].values.slice(0, 2) as number[], [red, blue]);
  });
});

describe("transform", () => {
  it("log / log1p / sqrt", async () => {
    const f = numeric();
    const log = await runNode({ node_type: "transform", input: { method: "log", columns: ["a"] } }, f);
    close(log.frame.columns[0].values as number[], [0, Math.log(2), Math.log(4), Math.log(8), Math.log(16)]);
    const sq = await runNode({ node_type: "transform", input: { method: "sqrt", columns: ["b"] } }, f);
    close(sq.frame.columns[1].values as number[], [10, 20, 15, 40, 5].map(Math.sqrt));
    const l1 = await runNode({ node_type: "transform", input: { method: "log1p", columns: ["a"] } }, f);
    expect(l1.frame.columns[0].values[0]).toBeCloseTo(Math.log(2), 12);
    const bad = frameFromRecords([{ a: 0 }], [{ name: "a", type: "number" }]);
    await expect(runNode({ node_type: "transform", input: { method: "log", columns: ["a"] } }, bad)).rejects.toThrow(/> 0/);
  });

  it("box_cox λ by maximum likelihood matches scipy.stats.boxcox", async () => {
    const d = [1.2, 2.5, 3.1, 4.8, 7.9, 12.5, 20.1, 33.3];
    expect(fitBoxCoxLambda(Float64Array.from(d))).toBeCloseTo(-0.012938752798073157, 6);
    const f = frameFromRecords(d.map((x) => ({ x })), [{ name: "x", type: "number" }]);
    const r = await runNode({ node_type: "transform", input: { method: "box_cox", columns: ["x"] } }, f);
    close(r.frame.columns[0].values as number[], [0.18210667628409316, 0.910880518175798, 1.1231611142124038, 1.5528048034403092, 2.0394708110026203, 2.484904435046657, 2.9432141158264917, 3.427244159802468], 5);
  });
});

describe("scale", () => {
  it("standard matches sklearn StandardScaler", async () => {
    const r = await runNode({ node_type: "scale", input: { method: "standard" } }, numeric());
    expect(r.state).toMatchObject({ center: { a: 6.2, b: 18 } });
    expect((r.state as unknown as { scale: Record<string, number> }).scale.a).toBeCloseTo(5.455272678794343, 12);
    close(r.frame.columns[0].values as number[], [-0.9532062476387962, -0.7698973538621047, -0.4032795663087215, 0.3299560087980448, 1.7964271590115777], 12);
    close(r.frame.columns[1].values as number[], [-0.6620847108818944, 0.1655211777204736, -0.24828176658071038, 1.8207329549252094, -1.0758876551830783], 12);
  });

  it("minmax and robust match sklearn", async () => {
    const mm = await runNode({ node_type: "scale", input: { method: "minmax" } }, numeric());
    close(mm.frame.columns[0].values as number[], [0, 0.06666666666666667, 0.2, 0.4666666666666667, 1], 12);
    close(mm.frame.columns[1].values as number[], [0.14285714285714285, 0.42857142857142855, 0.2857142857142857, 1, 0], 12);
    const rb = await runNode({ node_type: "scale", input: { method: "robust" } }, numeric());
    expect(rb.state).toMatchObject({ center: { a: 4, b: 15 }, scale: { a: 6, b: 10 } });
    close(rb.frame.columns[1].values as number[], [-0.5, 0.5, 0, 2.5, -1], 12);
  });

  it("a constant column is centred but not divided by zero", async () => {
    const f = frameFromRecords([{ k: 3 }, { k: 3 }], [{ name: "k", type: "number" }]);
    const r = await runNode({ node_type: "scale", input: { method: "standard" } }, f);
    expect(r.frame.columns[0].values).toEqual([0, 0]);
  });
});

describe("select_features", () => {
  const X = [[1, 0, 3, 2.5], [0, 1, 2, 0.5], [2, 1, 0, 1.5], [3, 0, 1, 4.0], [0, 2, 2, 0.0], [1, 1, 3, 2.0], [4, 0, 1, 3.5], [0, 3, 0, 1.0]];
  const yc = [0, 1, 1, 0, 1, 0, 0, 2];
  const yr = [3.1, 0.9, 2.2, 5.0, 0.3, 3.0, 6.1, 1.2];
  const cols = [0, 1, 2, 3].map((j) => Float64Array.from(X, (r) => r[j]));

  it("chi2, f_classif and f_regression scores match sklearn", () => {
    close(chi2Scores(cols, Int32Array.from(yc), 3), [4.696969696969697, 6.583333333333334, 2.2222222222222223, 5.444444444444445], 10);
    close(fClassifScores(cols, Int32Array.from(yc), 3), [1.714601769911504, 11.617647058823518, 1.2499999999999993, 6.960227272727279], 9);
    close(fRegressionScores(cols, Float64Array.from(yr)), [41.83410168598536, 8.221945912340683, 0.01704425896051049, 75.87562338779058], 9);
  });

  const frame = (y: number[], type: "integer" | "number") =>
    frameFromRecords(X.map((r, i) => ({ f0: r[0], f1: r[1], f2: r[2], f3: r[3], y: y[i] })), [
      ...["f0", "f1", "f2", "f3"].map((name) => ({ name, type: "number" as const })),
      { name: "y", type },
    ]);

  it("keeps the k best candidates", async () => {
    const r = await runNode({ node_type: "select_features", input: { method: "chi2", k: 2 } }, frame(yc, "integer"), { target: "y", task: "classification" });
    expect(r.columns_out.map((c) => c.name)).toEqual(["f1", "f3", "y"]);
    const f = await runNode({ node_type: "select_features", input: { method: "f_score", k: 1 } }, frame(yr, "number"), { target: "y" });
    expect(f.columns_out.map((c) => c.name)).toEqual(["f3", "y"]);
  });

  it("rfe with a linear model matches sklearn RFE(LinearRegression) support and ranking", async () => {
    const r = await runNode({ node_type: "select_features", input: { method: "rfe", k: 2 } }, frame(yr, "number"), { target: "y", task: "regression" });
    expect(r.columns_out.map((c) => c.name)).toEqual(["f0", "f3", "y"]);
    expect((r.state as unknown as { scores: Record<string, number> }).scores).toEqual({ f0: 1, f1: 2, f2: 3, f3: 1 });
  });
});

describe("split", () => {
  it("test rows = ceil(test_size·n), deterministic per seed, disjoint and complete", () => {
    const a = splitRows(10, 0.25, 42);
    expect(a.test.length).toBe(3);
    expect(a.train.length).toBe(7);
    expect([...a.train, ...a.test].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(splitRows(10, 0.25, 42)).toEqual(a);
    expect(splitRows(10, 0.25, 7).test).not.toEqual(a.test);
    expect(splitRows(10, 0, 1).test.length).toBe(0);
  });

  it("stratifies by class", () => {
    const strata = Int32Array.from({ length: 100 }, (_, i) => (i < 80 ? 0 : 1));
    const s = splitRows(100, 0.2, 3, strata);
    expect(s.test.length).toBe(20);
    expect([...s.test].filter((i) => strata[i] === 1).length).toBe(4);
  });

  it("runs alone", async () => {
    const r = await runNode({ node_type: "split", input: { test_size: 0.4, seed: 1 } }, numeric());
    expect(r.split).toEqual({ rows_train: 3, rows_test: 2 });
  });
});

describe("source nodes", () => {
  it("dataset column_types re-type columns", async () => {
    const f = frameFromRecords([{ zip: 2134 }, { zip: 10001 }], [{ name: "zip", type: "integer" }]);
    const r = await runNode({ node_type: "dataset", input: { dataset_id: "ds1", column_types: { zip: "category" } } }, f);
    expect(r.frame.columns[0]).toMatchObject({ type: "category", values: ["2134", "10001"] });
  });
});
