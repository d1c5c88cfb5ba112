// The permutation Shapley estimator in groups: the same answer, bounded batches.
import { describe, expect, it } from "vitest";
import { shapleyValues, type BatchFunction } from "../src/shapley";

describe("permutation Shapley values", () => {
  // A nonlinear function of 40 features, row by row.
  const M = 40;
  const f: BatchFunction = (X, n) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < M; j++) s += Math.sin(X[i * M + j] * (j + 1)) * X[i * M + ((j + 3) % M)];
      out[i] = Math.tanh(s / 10);
    }
    return out;
  };
  const x = Float64Array.from({ length: M }, (_, j) => (j % 7) / 3);
  const ref = Float64Array.from({ length: M }, (_, j) => (j % 5) / 10);

  it("gives bit-identical values when evaluated in bounded groups, and never hands f more than the bound", () => {
    const whole = shapleyValues(f, x, ref, { seed: 17, maxBatchValues: Number.MAX_SAFE_INTEGER });
    let largest = 0;
    const counting: BatchFunction = (X, n) => {
      largest = Math.max(largest, n * M);
      return f(X, n);
    };
    // Room for 3 walks of M + 1 rows at a time: 64 walks take 22 calls.
    const bound = 3 * (M + 1) * M;
    const grouped = shapleyValues(counting, x, ref, { seed: 17, maxBatchValues: bound });
    expect(largest).toBeLessThanOrEqual(bound);
    expect(grouped.base).toBe(whole.base);
    expect(grouped.output).toBe(whole.output);
    expect(Array.from(grouped.phi)).toEqual(Array.from(whole.phi));
    // Efficiency holds: base + Σφ = output.
    expect(grouped.base + grouped.phi.reduce((a, b) => a + b, 0)).toBeCloseTo(grouped.output, 12);
  });
});
