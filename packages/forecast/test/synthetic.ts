// Seeded synthetic demand for the tests (no Math.random, no clocks).
import type { SalesPoint } from '../src/index';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normal(u: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(u(), 1e-12))) * Math.cos(2 * Math.PI * u());
}

export function poisson(u: () => number, lam: number): number {
  if (lam > 30) return Math.max(0, Math.round(lam + Math.sqrt(lam) * normal(u)));
  const L = Math.exp(-lam);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= u();
  } while (p > L);
  return k - 1;
}

const DAY = 86_400_000;
export const iso = (day: number) => new Date(day * DAY).toISOString().slice(0, 10);
export const dayOf = (s: string) => Math.round(Date.parse(`${s}T00:00:00Z`) / DAY);
/** 2021-01-04, a Monday. */
export const START = dayOf('2021-01-04');

export interface DailySpec {
  seed: number;
  days: number;
  level: number;
  /** log growth per day */
  slope?: number;
  /** Effects per ISO weekday Mon..Sun on the log scale. */
  weekly?: number[];
  yearlyAmp?: number;
  /** Multiplicative log-normal noise sd. */
  noise?: number;
  /** Poisson counts instead of rounding. */
  poissonNoise?: boolean;
  start?: number;
}

export function daily(spec: DailySpec): SalesPoint[] {
  const u = rng(spec.seed);
  const start = spec.start ?? START;
  const out: SalesPoint[] = [];
  for (let t = 0; t < spec.days; t++) {
    const d = start + t;
    const wd = (((d + 3) % 7) + 7) % 7;
    let mu = Math.log(spec.level) + (spec.slope ?? 0) * t + (spec.weekly ? spec.weekly[wd] : 0);
    if (spec.yearlyAmp) mu += spec.yearlyAmp * Math.sin((2 * Math.PI * d) / 365.25);
    mu += (spec.noise ?? 0) * normal(u);
    const lam = Math.exp(mu);
    out.push({ date: iso(d), quantity: spec.poissonNoise ? poisson(u, lam) : Math.round(lam) });
  }
  return out;
}

/** Demand-like series: negative-binomial-ish noise, weekly + yearly seasonality, one trend change, rare promos. */
export function realisticDaily(seed: number, days: number): SalesPoint[] {
  const u = rng(seed);
  const level = Math.log(5 + 200 * u());
  const w = Array.from({ length: 7 }, () => 0.25 * normal(u));
  const yAmp = 0.1 + 0.3 * u();
  const phase = 2 * Math.PI * u();
  const s1 = (0.3 * normal(u)) / 365;
  const s2 = (0.3 * normal(u)) / 365;
  const change = Math.floor(days * (0.3 + 0.4 * u()));
  const out: SalesPoint[] = [];
  let tr = 0;
  for (let t = 0; t < days; t++) {
    const d = START + t;
    tr += t < change ? s1 : s2;
    const wd = (((d + 3) % 7) + 7) % 7;
    let mu = level + tr + w[wd] + yAmp * Math.sin((2 * Math.PI * d) / 365.25 + phase);
    if (u() < 0.01) mu += Math.log(2 + 2 * u());
    // gamma-ish overdispersion via log-normal mixing
    const lam = Math.exp(mu + 0.15 * normal(u));
    out.push({ date: iso(d), quantity: poisson(u, lam) });
  }
  return out;
}

export function realisticWeekly(seed: number, weeks: number): SalesPoint[] {
  const u = rng(seed);
  const level = Math.log(50 + 1000 * u());
  const yAmp = 0.1 + 0.3 * u();
  const phase = 2 * Math.PI * u();
  const slope = (0.2 * normal(u)) / 52;
  const out: SalesPoint[] = [];
  for (let t = 0; t < weeks; t++) {
    const d = START + 7 * t;
    const mu = level + slope * t + yAmp * Math.sin((2 * Math.PI * d) / 365.25 + phase) + 0.1 * normal(u);
    out.push({ date: iso(d), quantity: poisson(u, Math.exp(mu)) });
  }
  return out;
}
