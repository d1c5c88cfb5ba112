import { describe, expect, it } from 'vitest';
import { fitCroston, fitDampedTrend, fitSeasonalNaive, predictDamped, predictSeasonalNaive, dampedGrowth } from '../src/fallback';
import { blockGrams, gram, ridgeSolve } from '../src/linalg';
import { planOrigins } from '../src/backtest';
import { inferFrequency } from '../src/series';
import { parseDay } from '../src/calendar';
import { median } from '../src/regression';

describe('fallback models', () => {
  it('seasonal naive repeats the last season', () => {
    const { state } = fitSeasonalNaive(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 3);
    expect(Array.from(predictSeasonalNaive(state, 7))).toEqual([8, 9, 10, 8, 9, 10, 8]);
  });

  it('Croston SBA rate ≈ (1 − α/2)·size/interval on regular intermittent demand', () => {
    const y = new Float64Array(300);
    for (let t = 4; t < 300; t += 5) y[t] = 10;
    expect(fitCroston(y).rate).toBeCloseTo(0.95 * (10 / 5), 2);
    expect(fitCroston(new Float64Array(10)).rate).toBe(0);
  });

  it('damped trend flattens out and its variance grows with h', () => {
    const y = Float64Array.from({ length: 12 }, (_, t) => 10 + 2 * t);
    const { state } = fitDampedTrend(y);
    const z = predictDamped(state, 200);
    expect(Math.expm1(z[0])).toBeGreaterThan(30);
    expect(z[199] - z[198]).toBeLessThan(z[1] - z[0]);
    const g = dampedGrowth(state, 10);
    for (let h = 1; h < 10; h++) expect(g[h]).toBeGreaterThanOrEqual(g[h - 1]);
  });
});

describe('linear algebra', () => {
  it('tfjs Gram matches a direct product; block Grams sum to the full Gram', () => {
    const n = 50;
    const p = 4;
    const X = Float32Array.from({ length: n * p }, (_, i) => Math.sin(i * 0.37) + (i % p === 0 ? 1 : 0));
    const G = gram(X, n, p);
    let g01 = 0;
    for (let i = 0; i < n; i++) g01 += X[i * p] * X[i * p + 1];
    expect(G[1]).toBeCloseTo(g01, 3);
    const blocks = blockGrams(X, p, [0, 20, 35, 50]);
    for (let k = 0; k < p * p; k++) expect(blocks[0][k] + blocks[1][k] + blocks[2][k]).toBeCloseTo(G[k], 3);
  });

  it('ridge solve recovers coefficients', () => {
    const G = Float64Array.from([4, 1, 1, 3]);
    const x = ridgeSolve(G, new Float64Array(2), Float64Array.from([1, 2]), 2);
    expect(4 * x[0] + x[1]).toBeCloseTo(1, 10);
    expect(x[0] + 3 * x[1]).toBeCloseTo(2, 10);
  });

  it('median (quickselect) matches sorting', () => {
    expect(median([5, 1, 4, 2, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
});

describe('planning and calendar', () => {
  it('origins: up to N windows, each training on >= half the history or two seasons', () => {
    expect(planOrigins(1095, 28, 3, 'D')).toEqual({ horizon: 28, cuts: [1067, 1039, 1011] });
    expect(planOrigins(60, 12, 3, 'M')).toEqual({ horizon: 12, cuts: [48, 36, 24] });
    expect(planOrigins(30, 28, 3, 'D')).toEqual({ horizon: 15, cuts: [15] });
    expect(planOrigins(1, 28, 3, 'D').cuts).toEqual([]);
  });

  it('frequency inference uses calendar alignment', () => {
    const d = (s: string) => parseDay(s)!;
    expect(inferFrequency(['2024-01-01', '2024-01-08', '2024-01-22'].map(d)).frequency).toBe('W');
    expect(inferFrequency(['2024-01-15', '2024-02-15', '2024-04-15'].map(d))).toEqual({ frequency: 'M', monthLabel: { kind: 'dom', dom: 15 } });
    expect(inferFrequency(['2024-01-01', '2024-01-02', '2024-01-09'].map(d)).frequency).toBe('D');
    expect(parseDay('2024-02-29')).not.toBeNull();
    expect(parseDay('2023-02-29')).toBeNull();
  });
});
