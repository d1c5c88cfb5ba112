// Expected values computed with scikit-learn 1.2.1.
import { describe, expect, it } from "vitest";
import { classificationMetrics, regressionMetrics, rocAuc } from "../src/metrics";

describe("classification metrics", () => {
  it("binary: accuracy, macro P/R/F1, ROC AUC, log loss, confusion matrix", () => {
    const y = Int32Array.from([0, 1, 1, 0, 1, 1, 0, 0, 1, 0]);
    const p1 = [0.1, 0.8, 0.4, 0.35, 0.9, 0.6, 0.6, 0.2, 0.7, 0.05];
    const P = Float64Array.from(p1.flatMap((p) => [1 - p, p]));
    const m = classificationMetrics(y, P, ["no", "yes"], "test");
    expect(m.accuracy).toBeCloseTo(0.8, 12);
    expect(m.precision_macro).toBeCloseTo(0.8, 12);
    expect(m.recall_macro).toBeCloseTo(0.8, 12);
    expect(m.f1_macro).toBeCloseTo(0.8, 12);
    expect(m.roc_auc).toBeCloseTo(0.94, 12);
    expect(m.log_loss).toBeCloseTo(0.383916637587711, 12);
    expect(m.confusion_matrix).toEqual([[4, 1], [1, 4]]);
    expect(m.labels).toEqual(["no", "yes"]);
    expect(m.evaluated_on).toBe("test");
  });

  it("ROC AUC averages tied ranks", () => {
    const y = [0, 1, 1, 0, 1, 1, 0, 0, 1, 0];
    expect(rocAuc(y, [0.5, 0.5, 0.2, 0.8, 0.5, 0.9, 0.1, 0.5, 0.3, 0.5])).toBeCloseTo(0.48, 12);
    expect(rocAuc([1, 1], [0.2, 0.3])).toBeNull();
  });

  it("multiclass: macro scores, log loss, one-vs-rest AUC", () => {
    const y = Int32Array.from([0, 1, 2, 2, 1, 0, 2, 1, 0, 2]);
    const P = Float64Array.from([[.7, .2, .1], [.1, .6, .3], [.2, .2, .6], [.3, .4, .3], [.2, .5, .3], [.4, .4, .2], [.1, .1, .8], [.5, .3, .2], [.6, .3, .1], [.2, .3, .5]].flat());
    const m = classificationMetrics(y, P, ["a", "b", "c"], "train");
    expect(m.accuracy).toBeCloseTo(0.8, 12);
    expect(m.precision_macro).toBeCloseTo(0.8055555555555555, 12);
    expect(m.recall_macro).toBeCloseTo(0.8055555555555555, 12);
    expect(m.f1_macro).toBeCloseTo(0.7936507936507936, 12);
    expect(m.log_loss).toBeCloseTo(0.6822826068196832, 12);
    expect(m.roc_auc).toBeCloseTo(0.9226190476190476, 12);
    expect(m.confusion_matrix).toEqual([[3, 0, 0], [1, 2, 0], [0, 1, 3]]);
  });

  it("a class that is never predicted scores 0 precision (zero_division=0)", () => {
    const y = Int32Array.from([0, 0, 1, 1, 2]);
    const pred = [0, 0, 1, 1, 1];
    const P = Float64Array.from(pred.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0))));
    const m = classificationMetrics(y, P, ["0", "1", "2"], "test");
    expect(m.precision_macro).toBeCloseTo(0.5555555555555555, 12);
    expect(m.recall_macro).toBeCloseTo(0.6666666666666666, 12);
    expect(m.f1_macro).toBeCloseTo(0.6, 12);
  });
});

describe("regression metrics", () => {
  it("RMSE, MAE, R²", () => {
    const m = regressionMetrics(Float64Array.from([3.0, -0.5, 2.0, 7.0, 4.2]), Float64Array.from([2.5, 0.0, 2.1, 7.8, 3.9]), "test");
    expect(m.rmse).toBeCloseTo(0.49799598391954925, 12);
    expect(m.mae).toBeCloseTo(0.44, 12);
    expect(m.r2).toBeCloseTo(0.9594665271966527, 12);
  });
});
