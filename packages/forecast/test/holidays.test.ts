import { describe, expect, it } from 'vitest';
import { fitForecaster } from '../src/index';
import { MAX_HOLIDAY_COLUMNS, makeHolidaySpec, parseHolidays } from '../src/holidays';
import { parseDay } from '../src/calendar';
import { daily } from './synthetic';

describe('holiday / event regressors', () => {
  it('learns a recurring event with a window and applies it to a future occurrence', () => {
    const hist = daily({ seed: 1, days: 900, level: 50, noise: 0.1 });
    const events = ['2021-06-15', '2021-12-10', '2022-06-14', '2022-12-09', '2023-06-13'];
    const byDate = new Map(hist.map((p, i) => [p.date, i]));
    // Day before ×1.5, day itself ×3, day after ×2.
    for (const e of events) {
      const i = byDate.get(e)!;
      hist[i - 1].quantity = Math.round(hist[i - 1].quantity * 1.5);
      hist[i].quantity = Math.round(hist[i].quantity * 3);
      hist[i + 1].quantity = Math.round(hist[i + 1].quantity * 2);
    }
    const future = '2023-07-04'; // history ends 2023-06-22
    const holidays = [...events, future].map((date) => ({ name: 'promo', date, lowerWindow: -1, upperWindow: 1 }));
    const m = fitForecaster(hist, { holidays });
    const f = m.forecast(20);
    const at = (d: string) => f.find((p) => p.date === d)!.yhat;
    const base = (at('2023-06-27') + at('2023-06-28') + at('2023-06-29')) / 3;
    expect(at('2023-07-04') / base).toBeGreaterThan(2.4);
    expect(at('2023-07-04') / base).toBeLessThan(3.6);
    expect(at('2023-07-05') / base).toBeGreaterThan(1.6);
    expect(at('2023-07-03') / base).toBeGreaterThan(1.25);
    // Without the regressor the same history does not predict the spike.
    const plain = fitForecaster(hist).forecast(20);
    expect(plain.find((p) => p.date === '2023-07-04')!.yhat / base).toBeLessThan(1.3);
  });

  it(`fits at most ${MAX_HOLIDAY_COLUMNS} holiday columns, keeping the most active, and skips names far from the history`, () => {
    const start = parseDay('2021-01-01')!;
    const trainDays = Int32Array.from({ length: 3 * 365 }, (_, i) => start + i);
    const list = [];
    // 25 yearly events with ±30-day windows: 1,525 candidate columns inside the history.
    for (let k = 0; k < 25; k++) for (const y of [2021, 2022, 2023]) list.push({ name: `event-${k}`, date: `${y}-03-${String(k + 2).padStart(2, '0')}`, lowerWindow: -30, upperWindow: 30 });
    // One name that only ever happens long after the history.
    list.push({ name: 'far-future', date: '2090-01-01', lowerWindow: -30, upperWindow: 30 });
    const spec = makeHolidaySpec(parseHolidays(list), 'D', trainDays);
    expect(spec.columns).toHaveLength(MAX_HOLIDAY_COLUMNS);
    expect(spec.dropped).toBe(25 * 61 - MAX_HOLIDAY_COLUMNS);
    expect(spec.columns.some((c) => c.name === 'far-future')).toBe(false);
    // Equal activity everywhere: the days nearest each event are kept first.
    expect(Math.max(...spec.columns.map((c) => Math.abs(c.offset!)))).toBeLessThanOrEqual(3);
    // The fit says what it left out.
    const hist = daily({ seed: 3, days: 3 * 365, level: 30, start });
    expect(fitForecaster(hist, { holidays: list }).notes.join(' ')).toMatch(/holiday day-columns .* left out/);
  });

  it('a holiday that never occurs in history is ignored with a note', () => {
    const hist = daily({ seed: 2, days: 100, level: 20 });
    const m = fitForecaster(hist, { holidays: [{ name: 'launch', date: '2030-01-01' }] });
    expect(m.notes.join(' ')).toMatch(/holiday/);
  });
});
