import { describe, expect, it } from 'vitest';
import { FittedForecaster, ForecastInputError, MODEL_FORMAT, fitForecaster } from '../src/index';
import { daily, iso, realisticDaily, START } from './synthetic';

describe('JSON round trip', () => {
  const cases: [string, () => Parameters<typeof fitForecaster>[0]][] = [
    ['prophet_like', () => realisticDaily(1, 800)],
    ['damped_trend', () => daily({ seed: 2, days: 10, level: 20 })],
    ['croston', () => Array.from({ length: 100 }, (_, t) => ({ date: iso(START + t), quantity: t % 5 === 0 ? 2 : 0 }))],
    ['naive', () => [{ date: '2024-01-01', quantity: 3 }]],
  ];
  for (const [method, make] of cases) {
    it(`${method}: forecasts identically after JSON.stringify → fromJSON`, () => {
      const m = fitForecaster(make(), {
        holidays: method === 'prophet_like' ? [{ name: 'sale', date: '2021-11-26', upperWindow: 1 }, { name: 'sale', date: '2022-11-25', upperWindow: 1 }, { name: 'sale', date: '2023-11-24', upperWindow: 1 }] : undefined,
      });
      expect(m.method).toBe(method);
      const text = JSON.stringify(m);
      const loaded = FittedForecaster.fromJSON(text);
      expect(loaded.method).toBe(m.method);
      expect(loaded.accuracy).toEqual(m.accuracy);
      expect(loaded.notes).toEqual(m.notes);
      expect(loaded.forecast(45)).toEqual(m.forecast(45));
      expect(FittedForecaster.fromJSON(m.toJSON()).forecast(5)).toEqual(m.forecast(5));
      expect(JSON.parse(text).format).toBe(MODEL_FORMAT);
    });
  }

  it('rejects foreign or broken JSON with a typed error', () => {
    for (const bad of ['{', '{"format":"other"}', JSON.stringify({ format: MODEL_FORMAT })]) {
      try {
        FittedForecaster.fromJSON(bad);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ForecastInputError);
        expect((e as ForecastInputError).reason).toBe('BAD_MODEL');
      }
    }
  });

  it('toJSON returns a copy: mutating it does not change the model', () => {
    const m = fitForecaster(realisticDaily(3, 200));
    const before = m.forecast(3);
    const j = m.toJSON();
    j.notes.push('x');
    (j.model as { center?: number }).center = 99;
    expect(m.forecast(3)).toEqual(before);
  });
});
