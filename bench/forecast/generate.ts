// Deterministic demand-like test series for the forecast bench. This is the ONLY place series are made:
// run.ts writes them to JSON and the statsmodels peer reads that file.

export type Freq = 'D' | 'W' | 'M';

export interface BenchSeries {
  id: string;
  freq: Freq;
  kind: 'daily' | 'intermittent' | 'weekly' | 'monthly';
  /** Seasonal period for seasonal naive / Holt-Winters. */
  period: number;
  dates: string[];
  /** Training part (first n - horizon points) and held-out part. */
  train: number[];
  test: number[];
}

export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private u: () => number;
  constructor(seed: number) {
    this.u = mulberry32(seed);
  }
  uniform(a = 0, b = 1): number {
    return a + (b - a) * this.u();
  }
  int(a: number, b: number): number {
    return Math.floor(this.uniform(a, b + 1));
  }
  normal(): number {
    const u1 = Math.max(this.u(), 1e-12);
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * this.u());
  }
  /** Marsaglia–Tsang gamma(shape, 1). */
  gamma(k: number): number {
    if (k < 1) return this.gamma(k + 1) * Math.pow(Math.max(this.u(), 1e-12), 1 / k);
    const d = k - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.u();
      if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }
  poisson(lam: number): number {
    if (lam <= 0) return 0;
    if (lam > 30) return Math.max(0, Math.round(lam + Math.sqrt(lam) * this.normal()));
    const L = Math.exp(-lam);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= this.u();
    } while (p > L);
    return k - 1;
  }
  /** Negative binomial with mean mu and dispersion k (var = mu + mu²/k). */
  negbin(mu: number, k: number): number {
    return this.poisson((mu * this.gamma(k)) / k);
  }
}

const DAY = 86_400_000;
const iso = (day: number) => new Date(day * DAY).toISOString().slice(0, 10);

/** Piecewise-linear log trend with a few random slope changes. */
function logTrend(r: Rng, T: number, perYear: number): Float64Array {
  const out = new Float64Array(T);
  let slope = (r.normal() * 0.25) / perYear;
  const changes = new Set<number>();
  const nChanges = r.int(0, 3);
  for (let c = 0; c < nChanges; c++) changes.add(r.int(Math.floor(T * 0.15), Math.floor(T * 0.9)));
  let v = 0;
  for (let t = 0; t < T; t++) {
    if (changes.has(t)) slope += (r.normal() * 0.35) / perYear;
    v += slope;
    out[t] = v;
  }
  // Centre so the level parameter means "typical level".
  const mid = out[Math.floor(T / 2)];
  for (let t = 0; t < T; t++) out[t] -= mid;
  return out;
}

function yearlyShape(r: Rng): (dayOfYearFrac: number) => number {
  const a1 = r.uniform(0.05, 0.45);
  const ph1 = r.uniform(0, 2 * Math.PI);
  const a2 = r.uniform(0, 0.15);
  const ph2 = r.uniform(0, 2 * Math.PI);
  const xmas = r.uniform() < 0.4 ? r.uniform(0.2, 0.6) : 0;
  return (f) => {
    const x = 2 * Math.PI * f;
    // Late-December peak for "gift" SKUs.
    const peak = xmas * Math.exp(-(((f - 0.97) * 365) ** 2) / (2 * 8 ** 2));
    return a1 * Math.sin(x + ph1) + a2 * Math.sin(2 * x + ph2) + peak;
  };
}

export function dailySeries(seed: number, T: number, H: number, startDay: number): BenchSeries {
  const r = new Rng(seed);
  const level = r.uniform(Math.log(3), Math.log(300));
  const trend = logTrend(r, T, 365);
  const wk = Array.from({ length: 7 }, () => r.normal());
  const wAmp = r.uniform(0.05, 0.35);
  const wMean = wk.reduce((a, b) => a + b, 0) / 7;
  const weekly = wk.map((v) => (v - wMean) * wAmp);
  const yearly = yearlyShape(r);
  const disp = r.uniform(5, 60);
  const mult = new Float64Array(T).fill(1);
  // Promotions: a few multi-day uplifts a year, unknown to every model.
  const promos = Math.round(r.uniform(2, 8) * (T / 365));
  for (let k = 0; k < promos; k++) {
    const s = r.int(0, T - 1);
    const len = r.int(3, 10);
    const up = r.uniform(1.3, 2.5);
    for (let t = s; t < Math.min(T, s + len); t++) mult[t] *= up;
  }
  // Outliers: stock-outs (zero for a few days) and single-day bulk orders.
  const nOut = Math.round(T * 0.006);
  for (let k = 0; k < nOut; k++) {
    const s = r.int(0, T - 1);
    if (r.uniform() < 0.5) for (let t = s; t < Math.min(T, s + r.int(1, 5)); t++) mult[t] = 0;
    else mult[s] *= r.uniform(3, 6);
  }
  const dates: string[] = [];
  const y: number[] = [];
  for (let t = 0; t < T; t++) {
    const day = startDay + t;
    const doy = ((day % 365.25) + 365.25) % 365.25;
    const wd = (((day + 3) % 7) + 7) % 7;
    const mu = Math.exp(level + trend[t] + weekly[wd] + yearly(doy / 365.25)) * mult[t];
    dates.push(iso(day));
    y.push(r.negbin(mu, disp));
  }
  return { id: `D${seed}`, freq: 'D', kind: 'daily', period: 7, dates, train: y.slice(0, T - H), test: y.slice(T - H) };
}

export function intermittentSeries(seed: number, T: number, H: number, startDay: number): BenchSeries {
  const r = new Rng(seed);
  const p = r.uniform(0.05, 0.4);
  const sizeMean = r.uniform(0.3, 3);
  const wk = Array.from({ length: 7 }, () => Math.exp(r.normal() * 0.3));
  const dates: string[] = [];
  const y: number[] = [];
  for (let t = 0; t < T; t++) {
    const day = startDay + t;
    const wd = (((day + 3) % 7) + 7) % 7;
    dates.push(iso(day));
    y.push(r.uniform() < Math.min(0.95, p * wk[wd]) ? 1 + r.poisson(sizeMean) : 0);
  }
  return { id: `I${seed}`, freq: 'D', kind: 'intermittent', period: 7, dates, train: y.slice(0, T - H), test: y.slice(T - H) };
}

export function weeklySeries(seed: number, T: number, H: number, startDay: number): BenchSeries {
  const r = new Rng(seed);
  const level = r.uniform(Math.log(20), Math.log(2000));
  const trend = logTrend(r, T, 52);
  const yearly = yearlyShape(r);
  const disp = r.uniform(10, 100);
  const dates: string[] = [];
  const y: number[] = [];
  for (let t = 0; t < T; t++) {
    const day = startDay + 7 * t;
    const doy = ((day % 365.25) + 365.25) % 365.25;
    let m = 1;
    if (r.uniform() < 0.04) m = r.uniform(1.3, 2); // promo week
    if (r.uniform() < 0.01) m = r.uniform(0.2, 0.6); // partial stock-out
    dates.push(iso(day));
    y.push(r.negbin(Math.exp(level + trend[t] + yearly(doy / 365.25)) * m, disp));
  }
  return { id: `W${seed}`, freq: 'W', kind: 'weekly', period: 52, dates, train: y.slice(0, T - H), test: y.slice(T - H) };
}

export function monthlySeries(seed: number, T: number, H: number, startYear: number): BenchSeries {
  const r = new Rng(seed);
  const level = r.uniform(Math.log(100), Math.log(10_000));
  const trend = logTrend(r, T, 12);
  const yearly = yearlyShape(r);
  const sigma = r.uniform(0.04, 0.15);
  const dates: string[] = [];
  const y: number[] = [];
  for (let t = 0; t < T; t++) {
    const yr = startYear + Math.floor(t / 12);
    const mo = t % 12;
    let m = 1;
    if (r.uniform() < 0.03) m = r.uniform(1.3, 1.8);
    dates.push(`${yr}-${String(mo + 1).padStart(2, '0')}-01`);
    const mu = Math.exp(level + trend[t] + yearly((mo + 0.5) / 12) + sigma * r.normal()) * m;
    y.push(Math.max(0, Math.round(mu)));
  }
  return { id: `M${seed}`, freq: 'M', kind: 'monthly', period: 12, dates, train: y.slice(0, T - H), test: y.slice(T - H) };
}

export const HORIZON: Record<Freq, number> = { D: 28, W: 13, M: 12 };

/** The bench set: 3 years daily (+28 held out), 3 years weekly (+13), 5 years monthly (+12). */
export function benchSet(counts = { daily: 40, intermittent: 10, weekly: 25, monthly: 25 }): BenchSeries[] {
  const start = Date.UTC(2021, 0, 4) / DAY; // a Monday
  const out: BenchSeries[] = [];
  for (let i = 0; i < counts.daily; i++) out.push(dailySeries(1000 + i, 1095 + 28, 28, start));
  for (let i = 0; i < counts.intermittent; i++) out.push(intermittentSeries(2000 + i, 1095 + 28, 28, start));
  for (let i = 0; i < counts.weekly; i++) out.push(weeklySeries(3000 + i, 156 + 13, 13, start));
  for (let i = 0; i < counts.monthly; i++) out.push(monthlySeries(4000 + i, 60 + 12, 12, 2019));
  return out;
}
