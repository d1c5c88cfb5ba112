// Fourier seasonality on the absolute calendar (epoch days), so backtest fits and the final fit share
// the same phase and a weekly term always means "day of week".
//
// When a seasonality is fitted (two full cycles are the minimum to tell a season from trend + noise,
// the rule Prophet also uses for yearly):
//   weekly: daily series with >= 14 days, order 3 (7-day pattern has 6 degrees of freedom = 3 pairs);
//   yearly: >= 2 years of history: 730 days (order 10), 104 weeks (order 6), 24 months (order 5, which
//           with the intercept spans every month-of-year pattern).
// Anything shorter than two cycles of every seasonality that applies to the frequency falls back to a
// damped trend (fallback.ts) and the result says so.

import type { Frequency } from './types';

export interface FourierTerm {
  name: 'weekly' | 'yearly';
  /** Period in days. */
  period: number;
  order: number;
}

export const WEEK_DAYS = 7;
export const YEAR_DAYS = 365.25;

export function chooseSeasonalities(freq: Frequency, n: number): { terms: FourierTerm[]; notes: string[] } {
  const terms: FourierTerm[] = [];
  const notes: string[] = [];
  if (freq === 'D') {
    if (n >= 14) terms.push({ name: 'weekly', period: WEEK_DAYS, order: 3 });
    else notes.push(`weekly seasonality off: needs >= 14 days of history, have ${n}`);
    if (n >= 730) terms.push({ name: 'yearly', period: YEAR_DAYS, order: 10 });
    else notes.push(`yearly seasonality off: needs >= 730 days of history, have ${n}`);
  } else if (freq === 'W') {
    if (n >= 104) terms.push({ name: 'yearly', period: YEAR_DAYS, order: 6 });
    else notes.push(`yearly seasonality off: needs >= 104 weeks of history, have ${n}`);
  } else {
    if (n >= 24) terms.push({ name: 'yearly', period: YEAR_DAYS, order: 5 });
    else notes.push(`yearly seasonality off: needs >= 24 months of history, have ${n}`);
  }
  return { terms, notes };
}

export function fourierWidth(terms: FourierTerm[]): number {
  let w = 0;
  for (const t of terms) w += 2 * t.order;
  return w;
}

export function writeFourierRow(terms: FourierTerm[], day: number, row: Float32Array | Float64Array, o: number): void {
  let c = o;
  for (const term of terms) {
    const base = (2 * Math.PI * day) / term.period;
    for (let k = 1; k <= term.order; k++) {
      row[c++] = Math.sin(base * k);
      row[c++] = Math.cos(base * k);
    }
  }
}
