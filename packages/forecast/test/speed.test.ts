import { describe, expect, it } from 'vitest';
import { fitForecaster } from '../src/index';
import { realisticDaily } from './synthetic';

describe('speed', () => {
  it('fits 3 years of daily history with its backtest in well under a second', () => {
    const series = Array.from({ length: 6 }, (_, i) => realisticDaily(40 + i, 1095));
    fitForecaster(series[0]); // warm-up: JIT and tfjs kernel registration
    const times: number[] = [];
    for (const s of series.slice(1)) {
      const t = performance.now();
      fitForecaster(s);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    // Median: robust to a neighbour process stealing the CPU for one fit. Typically ~60 ms.
    expect(times[2]).toBeLessThan(1000);
  });
});
