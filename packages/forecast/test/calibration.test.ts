import { describe, expect, it } from 'vitest';
import { type SalesPoint, fitForecaster } from '../src/index';
import { realisticDaily, realisticWeekly } from './synthetic';

/** Fits on all but the last H points, returns counts of held-out actuals inside the 80%/95% bands. */
function holdout(series: SalesPoint[], H: number) {
  const train = series.slice(0, series.length - H);
  const test = series.slice(series.length - H);
  const f = fitForecaster(train, { horizon: H }).forecast(H);
  let in80 = 0;
  let in95 = 0;
  test.forEach((p, h) => {
    expect(f[h].date).toBe(p.date);
    if (p.quantity >= f[h].yhat_lower && p.quantity <= f[h].yhat_upper) in80++;
    if (p.quantity >= f[h].yhat_lower_95 && p.quantity <= f[h].yhat_upper_95) in95++;
  });
  return { in80, in95, n: H };
}

function coverage(runs: { in80: number; in95: number; n: number }[]) {
  const n = runs.reduce((s, r) => s + r.n, 0);
  return {
    c80: (100 * runs.reduce((s, r) => s + r.in80, 0)) / n,
    c95: (100 * runs.reduce((s, r) => s + r.in95, 0)) / n,
  };
}

describe('interval calibration on held-out data', () => {
  it('daily: 80% / 95% coverage within ±8 points over 12 seeded series', () => {
    const runs = Array.from({ length: 12 }, (_, i) => holdout(realisticDaily(100 + i, 2 * 365 + 28), 28));
    const { c80, c95 } = coverage(runs);
    expect(Math.abs(c80 - 80)).toBeLessThanOrEqual(8);
    expect(Math.abs(c95 - 95)).toBeLessThanOrEqual(8);
  });

  it('weekly: 80% / 95% coverage within ±8 points over 20 seeded series', () => {
    const runs = Array.from({ length: 20 }, (_, i) => holdout(realisticWeekly(200 + i, 156 + 13), 13));
    const { c80, c95 } = coverage(runs);
    expect(Math.abs(c80 - 80)).toBeLessThanOrEqual(8);
    expect(Math.abs(c95 - 95)).toBeLessThanOrEqual(8);
  });

  it('bands are ordered, non-negative and widen with the horizon', () => {
    const f = fitForecaster(realisticDaily(300, 800)).forecast(60);
    for (const p of f) {
      expect(p.yhat_lower_95).toBeGreaterThanOrEqual(0);
      expect(p.yhat_lower_95).toBeLessThanOrEqual(p.yhat_lower);
      expect(p.yhat_lower).toBeLessThanOrEqual(p.yhat);
      expect(p.yhat).toBeLessThanOrEqual(p.yhat_upper);
      expect(p.yhat_upper).toBeLessThanOrEqual(p.yhat_upper_95);
    }
    // Relative width (log scale) on the last week is at least that of the first week.
    const rel = (p: (typeof f)[number]) => Math.log1p(p.yhat_upper) - Math.log1p(p.yhat_lower);
    const first = f.slice(0, 7).reduce((s, p) => s + rel(p), 0);
    const last = f.slice(-7).reduce((s, p) => s + rel(p), 0);
    expect(last).toBeGreaterThanOrEqual(first * 0.999);
  });
});
