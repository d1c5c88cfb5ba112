import { describe, expect, it } from 'vitest';
import { fitForecaster } from '../src/index';
import { daily, iso, rng, START } from './synthetic';

const WEEKLY = [-0.1, -0.1, 0, 0, 0.1, 0.2, -0.1];

describe('short histories degrade gracefully and say so', () => {
  it('under two weeks of daily data: damped trend, with a note', () => {
    const m = fitForecaster(daily({ seed: 1, days: 10, level: 20, noise: 0.2 }));
    expect(m.method).toBe('damped_trend');
    expect(m.notes.join(' ')).toMatch(/short history.*damped trend/);
    const f = m.forecast(14);
    expect(f).toHaveLength(14);
    for (const p of f) {
      expect(p.yhat).toBeGreaterThan(5);
      expect(p.yhat).toBeLessThan(60);
      expect(p.yhat_upper_95).toBeGreaterThan(p.yhat_lower_95);
    }
  });

  it('fewer than 4 points: naive mean, with a note; a single point still forecasts', () => {
    const m = fitForecaster([{ date: '2024-03-01', quantity: 7 }]);
    expect(m.method).toBe('naive');
    expect(m.notes.some((n) => /naive/.test(n))).toBe(true);
    const f = m.forecast(3);
    expect(f.map((p) => p.date)).toEqual(['2024-03-02', '2024-03-03', '2024-03-04']);
    expect(f[0].yhat).toBeCloseTo(7, 6);
    expect(f[0].yhat_upper).toBeGreaterThan(7);
    expect(m.accuracy.origins).toBe(0);
    expect(m.accuracy.mae).toBeNull();
  });

  it('weekly data under two years: damped trend, yearly seasonality reported as off', () => {
    const hist = Array.from({ length: 60 }, (_, t) => ({ date: iso(START + 7 * t), quantity: 100 + t }));
    const m = fitForecaster(hist);
    expect(m.frequency).toBe('W');
    expect(m.method).toBe('damped_trend');
    expect(m.notes.join(' ')).toMatch(/104/);
    const f = m.forecast(4);
    expect(f[0].date).toBe(iso(START + 7 * 60));
    expect(f[0].yhat).toBeGreaterThan(140);
  });

  it('daily data between 2 weeks and 2 years: regression without yearly, says so', () => {
    const m = fitForecaster(daily({ seed: 2, days: 120, level: 40, weekly: WEEKLY, noise: 0.1 }));
    expect(m.method).toBe('prophet_like');
    expect(m.notes.join(' ')).toMatch(/yearly seasonality off/);
    expect(m.components()!.weekly).not.toBeNull();
  });

  it('history shorter than 2×horizon still backtests on a shorter window and says so', () => {
    const m = fitForecaster(daily({ seed: 3, days: 30, level: 40, weekly: WEEKLY, noise: 0.1 }), { horizon: 28 });
    expect(m.accuracy.horizon).toBe(15);
    expect(m.accuracy.origins).toBe(1);
    expect(m.notes.join(' ')).toMatch(/shortened/);
    expect(m.forecast()).toHaveLength(28);
  });
});

describe('zero-heavy and intermittent series never go negative', () => {
  it('intermittent daily demand uses Croston (SBA) with non-negative bands', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const u = rng(seed);
      const hist = Array.from({ length: 400 }, (_, t) => ({ date: iso(START + t), quantity: u() < 0.15 ? 1 + Math.floor(u() * 4) : 0 }));
      const m = fitForecaster(hist);
      expect(m.method).toBe('croston');
      expect(m.notes.join(' ')).toMatch(/intermittent/);
      for (const p of m.forecast(60)) {
        expect(p.yhat).toBeGreaterThanOrEqual(0);
        expect(p.yhat_lower_95).toBeGreaterThanOrEqual(0);
        expect(p.yhat_lower).toBeGreaterThanOrEqual(0);
        expect(p.yhat).toBeLessThan(1); // rate ≈ 0.15 × 2.5
      }
    }
  });

  it('zero-heavy series below the Croston threshold, trending down to zero, stays >= 0', () => {
    const u = rng(9);
    const hist = Array.from({ length: 500 }, (_, t) => {
      const lam = Math.max(0, 3 * (1 - t / 450));
      return { date: iso(START + t), quantity: u() < 0.6 ? Math.round(lam * 2 * u()) : 0 };
    });
    for (const frequency of ['D', 'W'] as const) {
      const m = fitForecaster(hist, { frequency });
      for (const p of m.forecast(400)) {
        for (const v of [p.yhat, p.yhat_lower, p.yhat_upper, p.yhat_lower_95, p.yhat_upper_95]) {
          expect(Number.isFinite(v)).toBe(true);
          expect(v).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });

  it('all-zero history forecasts zero', () => {
    const hist = Array.from({ length: 50 }, (_, t) => ({ date: iso(START + t), quantity: 0 }));
    const m = fitForecaster(hist);
    for (const p of m.forecast(7)) {
      expect(p.yhat).toBe(0);
      expect(p.yhat_upper_95).toBe(0);
    }
  });

  it('daily series with a strongly falling trend is clamped at zero, not extrapolated below it', () => {
    const hist = daily({ seed: 5, days: 200, level: 30, slope: -0.02, noise: 0.1, poissonNoise: true });
    const m = fitForecaster(hist);
    for (const p of m.forecast(365)) expect(p.yhat_lower_95).toBeGreaterThanOrEqual(0);
  });
});
