import { describe, expect, it } from 'vitest';
import { fitForecaster } from '../src/index';
import { daily } from './synthetic';

// Centered weekly effects (log scale), Mon..Sun.
const WEEKLY = [-0.15, -0.2, -0.1, 0, 0.1, 0.3, 0.05];

describe('parameter recovery on synthetic series', () => {
  it('recovers trend slope and weekly pattern (3 years daily, log-normal noise)', () => {
    for (const seed of [1, 2, 3]) {
      const slope = 0.0008; // ≈ +34% a year
      const hist = daily({ seed, days: 1095, level: 200, slope, weekly: WEEKLY, noise: 0.08 });
      const m = fitForecaster(hist);
      expect(m.method).toBe('prophet_like');
      const c = m.components()!;
      expect(Math.abs(c.trendSlope - slope)).toBeLessThan(0.2 * slope);
      expect(c.weekly).not.toBeNull();
      for (let k = 0; k < 7; k++) expect(Math.abs(c.weekly![k] - WEEKLY[k])).toBeLessThan(0.03);
      const trueAmp = (Math.max(...WEEKLY) - Math.min(...WEEKLY)) / 2;
      expect(Math.abs(c.weeklyAmplitude! - trueAmp) / trueAmp).toBeLessThan(0.1);
    }
  });

  it('recovers a yearly amplitude once two years are available', () => {
    const hist = daily({ seed: 7, days: 1095, level: 100, yearlyAmp: 0.4, weekly: WEEKLY, noise: 0.1 });
    const c = fitForecaster(hist).components()!;
    expect(c.yearlyAmplitude).not.toBeNull();
    expect(Math.abs(c.yearlyAmplitude! - 0.4)).toBeLessThan(0.06);
  });

  it('flat series: slope ≈ 0 and no invented changepoint trend', () => {
    const hist = daily({ seed: 11, days: 1095, level: 50, weekly: WEEKLY, noise: 0.1 });
    const m = fitForecaster(hist);
    const c = m.components()!;
    expect(Math.abs(c.trendSlope * 365)).toBeLessThan(0.06); // < 6% drift a year
    // Forecast level a month out stays near the true median level (50 × weekly effect).
    const f = m.forecast(28);
    const mean = f.reduce((s, p) => s + p.yhat, 0) / f.length;
    expect(mean).toBeGreaterThan(42);
    expect(mean).toBeLessThan(58);
  });

  it('follows a trend change (piecewise-linear trend with changepoints)', () => {
    // Flat for 500 days, then +0.2%/day for 230 days.
    const a = daily({ seed: 21, days: 500, level: 100, weekly: WEEKLY, noise: 0.05 });
    const b = daily({ seed: 22, days: 230, level: 100, slope: 0.002, weekly: WEEKLY, noise: 0.05, start: 0 });
    const hist = [...a, ...b.map((p, i) => ({ date: nextDate(a[a.length - 1].date, i + 1), quantity: p.quantity }))];
    const c = fitForecaster(hist).components()!;
    expect(c.trendSlope).toBeGreaterThan(0.0014);
    expect(c.trendSlope).toBeLessThan(0.0026);
  });
});

function nextDate(date: string, k: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + k * 86_400_000).toISOString().slice(0, 10);
}
