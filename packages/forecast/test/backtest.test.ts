import { describe, expect, it } from 'vitest';
import { ForecastAbortedError, accuracyMetrics, backtest, fitForecaster, fitForecasterAsync } from '../src/index';
import { daily, realisticDaily, realisticWeekly } from './synthetic';

describe('accuracy metrics', () => {
  it('MAE, MAPE over non-zero actuals only, sMAPE with 0/0 = 0', () => {
    const m = accuracyMetrics([10, 0, 20, 0], [12, 0, 10, 3]);
    expect(m.mae).toBeCloseTo((2 + 0 + 10 + 3) / 4, 12);
    expect(m.mape).toBeCloseTo((100 * (0.2 + 0.5)) / 2, 12); // zeros skipped
    expect(m.smape).toBeCloseTo((100 * ((2 * 2) / 22 + 0 + (2 * 10) / 30 + 2)) / 4, 12);
  });

  it('MAPE is null when every actual is zero', () => {
    expect(accuracyMetrics([0, 0], [1, 0]).mape).toBeNull();
  });
});

describe('backtest during training', () => {
  it('3-year daily fit reports rolling-origin accuracy over the last horizon', () => {
    const m = fitForecaster(realisticDaily(1, 1095), { horizon: 28 });
    expect(m.accuracy.horizon).toBe(28);
    expect(m.accuracy.origins).toBe(3);
    for (const k of ['mae', 'mape', 'smape'] as const) {
      expect(m.accuracy[k]).not.toBeNull();
      expect(m.accuracy[k]!).toBeGreaterThan(0);
    }
    expect(m.accuracy.mape!).toBeLessThan(60);
  });

  it('backtestOrigins: 0 skips it; accuracy is then unknown and noted', () => {
    const m = fitForecaster(realisticDaily(1, 400), { backtestOrigins: 0 });
    expect(m.accuracy.origins).toBe(0);
    expect(m.accuracy.mape).toBeNull();
    expect(m.notes.join(' ')).toMatch(/too short to backtest|accuracy unknown/);
  });

  it('public backtest(): held-out windows with interval coverage', () => {
    const r = backtest(realisticWeekly(7, 180), { backtestOrigins: 2 });
    expect(r.origins).toBe(2);
    expect(r.horizon).toBe(13);
    expect(r.points).toHaveLength(26);
    expect(r.methods).toEqual(['prophet_like', 'prophet_like']);
    expect(r.coverage80).not.toBeNull();
    expect(r.coverage80!).toBeGreaterThanOrEqual(0);
    expect(r.coverage95!).toBeGreaterThanOrEqual(r.coverage80!);
    expect(r.mape).not.toBeNull();
  });

  it('the regression model beats seasonal naive on its own backtest for a trending seasonal series', () => {
    const hist = daily({ seed: 3, days: 1095, level: 40, slope: 0.001, weekly: [-0.2, -0.1, 0, 0, 0.1, 0.3, -0.1], yearlyAmp: 0.3, noise: 0.15, poissonNoise: true });
    const r = backtest(hist, { backtestOrigins: 3 });
    const n = hist.length;
    const actual: number[] = [];
    const naive: number[] = [];
    for (const cut of [n - 28, n - 56, n - 84]) {
      for (let h = 0; h < 28; h++) {
        actual.push(hist[cut + h].quantity);
        naive.push(hist[cut - 7 + (h % 7)].quantity);
      }
    }
    expect(r.mape!).toBeLessThan(accuracyMetrics(actual, naive).mape! * 0.9);
  });
});

describe('cancellation', () => {
  it('an already-aborted signal stops the sync fit with a typed error', () => {
    const ac = new AbortController();
    ac.abort();
    expect(() => fitForecaster(realisticDaily(1, 300), { signal: ac.signal })).toThrow(ForecastAbortedError);
  });

  it('the async fit yields between stages, so an abort fired meanwhile takes effect', async () => {
    const ac = new AbortController();
    const p = fitForecasterAsync(realisticDaily(1, 1095), { signal: ac.signal });
    setImmediate(() => ac.abort());
    await expect(p).rejects.toBeInstanceOf(ForecastAbortedError);
    const ok = await fitForecasterAsync(realisticDaily(1, 300));
    expect(ok.method).toBe('prophet_like');
  });
});
