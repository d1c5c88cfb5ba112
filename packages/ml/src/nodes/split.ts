// split node: seeded (optionally stratified) train/test partition of row indices.

import { DataError } from "../errors";
import { createRng, shuffleInPlace } from "../rng";

export interface SplitParams {
  test_size: number;
  seed?: number;
  stratify?: boolean;
}

export interface SplitResult {
  /** Ascending row indices. */
  train: Int32Array;
  test: Int32Array;
}

/**
 * n_test = ceil(test_size · n) as sklearn's train_test_split. Stratified: each
 * class gets floor(n_c · n_test / n) test rows, the remaining test rows go to
 * the classes with the largest fractional parts (ties: larger class, then
 * earlier class), then rows are drawn per class from a seeded shuffle.
 */
export function splitRows(n: number, testSize: number, seed: number, strata?: Int32Array): SplitResult {
  const nTest = testSize > 0 ? Math.ceil(testSize * n) : 0;
  if (nTest === 0) return { train: Int32Array.from({ length: n }, (_, i) => i), test: new Int32Array(0) };
  if (n - nTest < 1) throw new DataError(`test_size ${testSize} leaves no training rows out of ${n}`);
  const rng = createRng(seed);
  const isTest = new Uint8Array(n);
  if (!strata) {
    const idx = Array.from({ length: n }, (_, i) => i);
    shuffleInPlace(idx, rng);
    for (let i = 0; i < nTest; i++) isTest[idx[i]] = 1;
  } else {
    const groups = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const g = groups.get(strata[i]);
      if (g) g.push(i);
      else groups.set(strata[i], [i]);
    }
    const keys = [...groups.keys()].sort((a, b) => a - b);
    const quota = keys.map((k) => (groups.get(k)!.length * nTest) / n);
    const take = quota.map(Math.floor);
    let left = nTest - take.reduce((a, b) => a + b, 0);
    const order = keys.map((_, i) => i).sort((a, b) => quota[b] - take[b] - (quota[a] - take[a]) || groups.get(keys[b])!.length - groups.get(keys[a])!.length || a - b);
    for (const i of order) {
      if (left === 0) break;
      if (take[i] < groups.get(keys[i])!.length) { take[i]++; left--; }
    }
    keys.forEach((k, gi) => {
      const rows = groups.get(k)!;
      shuffleInPlace(rows, rng);
      for (let i = 0; i < take[gi]; i++) isTest[rows[i]] = 1;
    });
  }
  const train: number[] = [], test: number[] = [];
  for (let i = 0; i < n; i++) (isTest[i] ? test : train).push(i);
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}
