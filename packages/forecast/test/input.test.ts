import { describe, expect, it } from 'vitest';
import { ForecastInputError, fitForecaster } from '../src/index';
import { daily, iso, START } from './synthetic';

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ForecastInputError);
    expect((e as ForecastInputError).code).toBe('FORECAST_INPUT');
    return (e as ForecastInputError).reason;
  }
  return undefined;
}

describe('typed input errors', () => {
  it('empty history', () => {
    expect(reason(() => fitForecaster([]))).toBe('EMPTY_HISTORY');
    expect(reason(() => fitForecaster(undefined as never))).toBe('EMPTY_HISTORY');
  });

  it('bad dates: wrong format, impossible day, not a string', () => {
    expect(reason(() => fitForecaster([{ date: '2024/01/01', quantity: 1 }]))).toBe('BAD_DATE');
    expect(reason(() => fitForecaster([{ date: '2023-02-29', quantity: 1 }]))).toBe('BAD_DATE');
    expect(reason(() => fitForecaster([{ date: '2024-13-01', quantity: 1 }]))).toBe('BAD_DATE');
    expect(reason(() => fitForecaster([{ date: 20240101 as never, quantity: 1 }]))).toBe('BAD_DATE');
  });

  it('negative and non-finite quantities, with the offending index', () => {
    const hist = daily({ seed: 1, days: 30, level: 10 });
    hist[12] = { ...hist[12], quantity: -3 };
    try {
      fitForecaster(hist);
      expect.unreachable();
    } catch (e) {
      expect((e as ForecastInputError).reason).toBe('NEGATIVE_QUANTITY');
      expect((e as ForecastInputError).index).toBe(12);
    }
    expect(reason(() => fitForecaster([{ date: '2024-01-01', quantity: Number.NaN }]))).toBe('BAD_QUANTITY');
    expect(reason(() => fitForecaster([{ date: '2024-01-01', quantity: '3' as never }]))).toBe('BAD_QUANTITY');
  });

  it('bad options', () => {
    const hist = daily({ seed: 1, days: 30, level: 10 });
    expect(reason(() => fitForecaster(hist, { horizon: 0 }))).toBe('BAD_OPTION');
    expect(reason(() => fitForecaster(hist, { horizon: 2.5 }))).toBe('BAD_OPTION');
    expect(reason(() => fitForecaster(hist, { frequency: 'Q' as never }))).toBe('BAD_OPTION');
    expect(reason(() => fitForecaster(hist, { holidays: [{ name: 'x', date: 'nope' }] }))).toBe('BAD_OPTION');
    expect(reason(() => fitForecaster(hist, { holidays: [{ name: 'x', date: '2024-01-01', lowerWindow: 2 }] }))).toBe('BAD_OPTION');
    expect(reason(() => fitForecaster(hist).forecast(-1))).toBe('BAD_OPTION');
  });
});

describe('series preparation', () => {
  it('missing days count as zero sales and the result says so', () => {
    const hist = daily({ seed: 2, days: 60, level: 20 }).filter((_, i) => i % 10 !== 5);
    const m = fitForecaster(hist);
    expect(m.frequency).toBe('D');
    expect(m.notes.some((n) => /6 missing day\(s\).*zero/.test(n))).toBe(true);
  });

  it('unsorted input and duplicate dates (summed) are accepted', () => {
    const hist = daily({ seed: 3, days: 60, level: 20 });
    const shuffled = [...hist].reverse();
    shuffled.push({ date: hist[59].date, quantity: 1000 });
    const m = fitForecaster(shuffled);
    expect(m.notes.some((n) => /duplicate/.test(n))).toBe(true);
    expect(m.lastDate).toBe(hist[59].date);
  });

  it('infers weekly and monthly frequency from the dates', () => {
    const weekly = Array.from({ length: 120 }, (_, t) => ({ date: iso(START + 7 * t), quantity: 100 }));
    expect(fitForecaster(weekly).frequency).toBe('W');
    const monthly = Array.from({ length: 30 }, (_, t) => ({
      date: `${2021 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}-01`,
      quantity: 500,
    }));
    const mm = fitForecaster(monthly);
    expect(mm.frequency).toBe('M');
    expect(mm.forecast(3).map((p) => p.date)).toEqual(['2023-07-01', '2023-08-01', '2023-09-01']);
    const monthEnds = ['2023-01-31', '2023-02-28', '2023-03-31', '2023-04-30', '2023-05-31'].map((date) => ({ date, quantity: 5 }));
    const me = fitForecaster(monthEnds);
    expect(me.frequency).toBe('M');
    expect(me.forecast(2).map((p) => p.date)).toEqual(['2023-06-30', '2023-07-31']);
  });

  it('a sparse daily series (sales every ~9 days, any weekday) stays daily', () => {
    const days = [0, 9, 17, 27, 35, 44, 53, 61, 72, 80, 88];
    const m = fitForecaster(days.map((d) => ({ date: iso(START + d), quantity: 2 })));
    expect(m.frequency).toBe('D');
    expect(m.method).toBe('croston');
  });

  it('forcing a coarser frequency sums into buckets, dropping a partial month', () => {
    const hist = daily({ seed: 4, days: 800, level: 10 }); // 2021-01-04 .. 2023-03-14
    const m = fitForecaster(hist, { frequency: 'M' });
    expect(m.frequency).toBe('M');
    expect(m.notes.join(' ')).toMatch(/partial first month/);
    expect(m.notes.join(' ')).toMatch(/partial last month/);
    expect(m.lastDate).toBe('2023-02-01');
    const w = fitForecaster(hist, { frequency: 'W' });
    expect(w.frequency).toBe('W');
    // Weekly buckets end on the last date: forecast labels are week starts 7 days apart.
    const f = w.forecast(2);
    expect(f[1].yhat).toBeGreaterThan(30);
  });

  it('seed is recorded but results are deterministic regardless', () => {
    const hist = daily({ seed: 5, days: 200, level: 20, noise: 0.2 });
    const a = fitForecaster(hist, { seed: 1 });
    const b = fitForecaster(hist, { seed: 2 });
    expect(a.forecast(10)).toEqual(b.forecast(10));
    expect(a.toJSON().seed).toBe(1);
  });
});
