// Forecast bench: ours vs seasonal naive vs statsmodels Holt-Winters on deterministic synthetic demand.
//   npx tsx bench/forecast/run.ts
// Series come from generate.ts only; they are written to a temp JSON file that statsmodels_peer.py reads.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FittedForecaster, accuracyMetrics, fitForecaster } from '@millrace/forecast';
import { type BenchSeries, benchSet } from './generate';

const here = dirname(fileURLToPath(import.meta.url));
const t00 = performance.now();

function findPython(): string | null {
  for (const py of [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    const r = spawnSync(py, ['-c', 'import statsmodels'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

function seasonalNaive(train: number[], period: number, H: number): number[] {
  const n = train.length;
  return Array.from({ length: H }, (_, h) => train[n - period + (h % period)]);
}

interface Row {
  s: BenchSeries;
  ours: number[];
  snaive: number[];
  hw: number[] | null;
  inside80: number;
  inside95: number;
  method: string;
}

const series = benchSet();
const dir = mkdtempSync(join(tmpdir(), 'millrace-forecast-bench-'));
const seriesPath = join(dir, 'series.json');
const hwPath = join(dir, 'hw.json');
writeFileSync(seriesPath, JSON.stringify(series));

// Holt-Winters runs in its own process while we fit ours (accuracy phase only; timing comes later, alone).
const python = findPython();
const peer: Promise<{ ok: boolean; msg: string }> = python
  ? new Promise((resolve) => {
      const p = spawn(python, [join(here, 'statsmodels_peer.py'), seriesPath, hwPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => resolve({ ok: code === 0, msg: err.slice(-2000) }));
    })
  : Promise.resolve({ ok: false, msg: 'no python with statsmodels (tried $PYTHON, /usr/bin/python3, python3)' });

const rows: Row[] = [];
const methods = new Map<string, number>();
for (const s of series) {
  const history = s.train.map((quantity, i) => ({ date: s.dates[i], quantity }));
  const H = s.test.length;
  const model = fitForecaster(history, { horizon: H });
  // JSON round trip on every model: the bench scores what another process would load.
  const loaded = FittedForecaster.fromJSON(JSON.stringify(model));
  const f = loaded.forecast(H);
  let in80 = 0;
  let in95 = 0;
  s.test.forEach((a, h) => {
    if (a >= f[h].yhat_lower && a <= f[h].yhat_upper) in80++;
    if (a >= f[h].yhat_lower_95 && a <= f[h].yhat_upper_95) in95++;
  });
  methods.set(`${s.kind}:${model.method}`, (methods.get(`${s.kind}:${model.method}`) ?? 0) + 1);
  rows.push({ s, ours: f.map((p) => p.yhat), snaive: seasonalNaive(s.train, s.period, H), hw: null, inside80: in80, inside95: in95, method: model.method });
}

const peerResult = await peer;
let hwFailed = 0;
let hwSeconds = NaN;
if (peerResult.ok) {
  const hw = JSON.parse(readFileSync(hwPath, 'utf8'));
  hwSeconds = hw.total_s;
  for (const r of rows) {
    const res = hw.results[r.s.id];
    r.hw = res.forecast;
    if (res.seasonal === 'failed') hwFailed++;
  }
} else {
  console.log(`statsmodels peer failed: ${peerResult.msg}`);
}
rmSync(dir, { recursive: true, force: true });

// ---- accuracy table ----
type Agg = { n: number; mape: number[]; smape: number[]; mae: number[]; pts: number; in80: number; in95: number };
const groups = ['daily', 'intermittent', 'weekly', 'monthly', 'overall'] as const;
const agg = (who: 'ours' | 'snaive' | 'hw', g: (typeof groups)[number]): Agg => {
  const a: Agg = { n: 0, mape: [], smape: [], mae: [], pts: 0, in80: 0, in95: 0 };
  for (const r of rows) {
    if (g !== 'overall' && r.s.kind !== g) continue;
    const f = who === 'ours' ? r.ours : who === 'snaive' ? r.snaive : r.hw;
    if (!f) continue;
    const m = accuracyMetrics(r.s.test, f);
    a.n++;
    // Series whose held-out window is all zeros have no MAPE for anyone; skipped for all methods alike.
    if (m.mape !== null) a.mape.push(m.mape);
    a.smape.push(m.smape!);
    a.mae.push(m.mae!);
    a.pts += r.s.test.length;
    a.in80 += r.inside80;
    a.in95 += r.inside95;
  }
  return a;
};
const mean = (v: number[]) => (v.length ? v.reduce((x, y) => x + y, 0) / v.length : NaN);
const geoRatio = (a: number[], b: number[]) => {
  let s = 0;
  let k = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > 0 && b[i] > 0) (s += Math.log(a[i] / b[i])), k++;
  return k ? Math.exp(s / k) : NaN;
};
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1).padStart(6) : '    -');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2).padStart(5) : '    -');

console.log('\nHeld-out accuracy (last horizon of each series; MAPE over non-zero actuals; averages are per-series means;');
console.log('MAE geo-ratio = geometric mean over series of MAE ratios, since MAE is in each SKU\'s own units)');
console.log('group          n |  MAPE ours  sNaive      HW |  sMAPE ours sNaive     HW | MAE geo-ratio ours/sN ours/HW | cover80 cover95');
const summary: Record<string, { ours: Agg; sn: Agg; hw: Agg }> = {};
for (const g of groups) {
  const ours = agg('ours', g);
  const sn = agg('snaive', g);
  const hw = agg('hw', g);
  summary[g] = { ours, sn, hw };
  console.log(
    `${g.padEnd(12)} ${String(ours.n).padStart(3)} |     ${f1(mean(ours.mape))}  ${f1(mean(sn.mape))}  ${f1(mean(hw.mape))} |     ${f1(mean(ours.smape))} ${f1(mean(sn.smape))} ${f1(mean(hw.smape))} |` +
      `${' '.repeat(17)}${f2(geoRatio(ours.mae, sn.mae))}   ${f2(hw.n ? geoRatio(ours.mae, hw.mae) : NaN)} |  ${f1((100 * ours.in80) / ours.pts)}%  ${f1((100 * ours.in95) / ours.pts)}%`,
  );
}
console.log(`methods chosen: ${[...methods].map(([k, v]) => `${k}=${v}`).join(', ')}`);
if (peerResult.ok) console.log(`Holt-Winters: statsmodels, ${hwSeconds.toFixed(1)} s for ${rows.length} fits, ${hwFailed} failed (fell back to seasonal mean)`);

// ---- timing ----
// Single process: 3-year daily SKUs, fit + 3-origin backtest, nothing else running.
const timingSeries = series.filter((s) => s.kind === 'daily').map((s) => s.train.map((quantity, i) => ({ date: s.dates[i], quantity })));
for (const h of timingSeries.slice(0, 3)) fitForecaster(h); // warm-up (JIT, tfjs kernels)
const load0 = loadavg()[0];
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (const h of timingSeries) fitForecaster(h);
const cpu1 = process.cpuUsage(cpu0);
const msPerSku = (performance.now() - t0) / timingSeries.length;
const cpuMsPerSku = (cpu1.user + cpu1.system) / 1000 / timingSeries.length;

// Two processes, 150 SKUs each, wall clock including process start-up.
const PER = 150;
const worker = join(here, 'timing_worker.ts');
const tw = performance.now();
const children = await Promise.all(
  [0, 1].map(
    (k) =>
      new Promise<{ count: number; ms: number }>((resolve, reject) => {
        const p = spawn(process.execPath, [...process.execArgv, worker, String(50_000 + k * PER), String(PER)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`timing worker exited ${code}`))));
      }),
  ),
);
const wallMs = performance.now() - tw;
const projected1000 = (wallMs / (2 * PER)) * 1000 / 1000;
const perProc = children.map((c) => c.ms / c.count);

console.log('\nSpeed (3 years daily history, backtest included)');
console.log(`  machine load average at start: ${load0.toFixed(1)} on ${availableParallelism()} cores (other work on the box inflates wall times)`);
console.log(`  single process: ${msPerSku.toFixed(1)} ms per SKU fit (wall), ${cpuMsPerSku.toFixed(1)} ms CPU`);
console.log(`  2 processes x ${PER} SKUs: wall ${(wallMs / 1000).toFixed(1)} s (in-process ${perProc.map((m) => m.toFixed(1)).join(' / ')} ms per SKU)`);
console.log(`  projected 1,000 SKUs on 2 processes: ${projected1000.toFixed(1)} s (from the 2-process wall clock, start-up included)`);

// ---- targets ----
const o = summary.overall;
const ratioSn = mean(o.ours.mape) / mean(o.sn.mape);
const ratioHw = peerResult.ok ? mean(o.ours.mape) / mean(o.hw.mape) : NaN;
const cov80 = (100 * o.ours.in80) / o.ours.pts;
const cov95 = (100 * o.ours.in95) / o.ours.pts;
console.log('\nRatios (overall mean MAPE)');
console.log(`  ours / seasonal-naive = ${ratioSn.toFixed(3)}`);
console.log(`  ours / Holt-Winters   = ${Number.isFinite(ratioHw) ? ratioHw.toFixed(3) : 'n/a'}`);
const line = (ok: boolean, what: string) => console.log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
console.log('');
line(ratioSn <= 0.9, `MAPE clearly beats seasonal naive (ours/sNaive ${ratioSn.toFixed(3)} <= 0.90)`);
line(Number.isFinite(ratioHw) && ratioHw <= 1.0, `MAPE no worse than Holt-Winters on average (ours/HW ${Number.isFinite(ratioHw) ? ratioHw.toFixed(3) : 'n/a'} <= 1.00)`);
line(Math.abs(cov80 - 80) <= 8, `80% interval coverage ${cov80.toFixed(1)}% within 80 +/- 8`);
line(Math.abs(cov95 - 95) <= 8 && cov95 <= 100, `95% interval coverage ${cov95.toFixed(1)}% within 95 +/- 8`);
line(msPerSku < 1000, `fit + backtest of one 3-year daily SKU ${msPerSku.toFixed(1)} ms < 1000 ms`);
line(projected1000 < 180, `1,000 SKUs on 2 processes ${projected1000.toFixed(1)} s < 180 s`);
console.log(`\nbench wall time ${((performance.now() - t00) / 1000).toFixed(1)} s`);
