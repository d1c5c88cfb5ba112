// Child process for the 2-process throughput check in run.ts: fits `count` 3-year daily SKUs
// (backtest included) and prints {count, ms} as JSON.
import { fitForecaster } from '@millrace/forecast';
import { dailySeries } from './generate';

const [seedStr, countStr] = process.argv.slice(2);
const seed0 = Number(seedStr);
const count = Number(countStr);
const start = Date.UTC(2021, 0, 4) / 86_400_000;
const jobs = Array.from({ length: count }, (_, i) => {
  const s = dailySeries(seed0 + i, 1095, 0, start);
  return s.dates.map((date, k) => ({ date, quantity: s.train[k] }));
});
const t0 = performance.now();
for (const h of jobs) fitForecaster(h);
process.stdout.write(JSON.stringify({ count, ms: performance.now() - t0 }));
