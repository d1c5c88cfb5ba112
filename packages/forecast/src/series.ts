// Turns raw SalesPoint[] into a dense, regularly spaced series.
//
// Conventions (documented in the README):
// - Duplicate dates are summed (several order lines on one day).
// - A period between the first and last date with no record counts as ZERO sales: for demand data
//   "no row" means "nothing sold", which is also what the seed's Prophet pipeline assumed. Feeds with
//   outages should send interpolated rows instead.
// - Frequency is inferred from the dates unless given: every date on the same weekday -> 'W';
//   every date on the same day of month (or every date a month end) and gaps >= 28 days -> 'M';
//   anything else -> 'D'. Looking at weekday/day-of-month alignment rather than the median gap keeps
//   sparse daily series (a sale every ~10 days) from being mistaken for weekly ones.
// - Forcing a frequency coarser than the data sums the data into buckets (D -> W buckets end on the last
//   date; D -> M buckets are calendar months, dropping partial first/last months).

import { ForecastInputError } from './errors';
import {
  type MonthLabel,
  daysInMonth,
  formatDay,
  monthIndex,
  monthLabelDay,
  parseDay,
  toYMD,
} from './calendar';
import type { Frequency, SalesPoint } from './types';

/** Enough to label future periods; serialised with the model. */
export interface PeriodCalendar {
  frequency: Frequency;
  /** Epoch day labelling the last history period. */
  lastDay: number;
  monthLabel?: MonthLabel;
}

export interface PreparedSeries {
  frequency: Frequency;
  /** Quantity per period, gaps filled with 0. */
  values: Float64Array;
  /** Epoch day labelling each period. */
  days: Int32Array;
  calendar: PeriodCalendar;
  notes: string[];
}

export const SEASON_LENGTH: Record<Frequency, number> = { D: 7, W: 52, M: 12 };
export const DEFAULT_HORIZON: Record<Frequency, number> = { D: 28, W: 13, M: 12 };

export function prepareSeries(history: SalesPoint[], forced?: Frequency): PreparedSeries {
  if (!Array.isArray(history) || history.length === 0) {
    throw new ForecastInputError('EMPTY_HISTORY', 'history is empty: need at least one {date, quantity} point');
  }
  if (forced !== undefined && forced !== 'D' && forced !== 'W' && forced !== 'M') {
    throw new ForecastInputError('BAD_OPTION', `frequency must be 'D', 'W' or 'M', got ${String(forced)}`);
  }
  const byDay = new Map<number, number>();
  for (let i = 0; i < history.length; i++) {
    const p = history[i];
    if (p === null || typeof p !== 'object') {
      throw new ForecastInputError('BAD_DATE', `history[${i}] is not a {date, quantity} object`, i);
    }
    const day = parseDay(p.date);
    if (day === null) {
      throw new ForecastInputError('BAD_DATE', `history[${i}].date ${JSON.stringify(p.date)} is not a valid YYYY-MM-DD date`, i);
    }
    const q = p.quantity;
    if (typeof q !== 'number' || !Number.isFinite(q)) {
      throw new ForecastInputError('BAD_QUANTITY', `history[${i}].quantity must be a finite number, got ${String(q)}`, i);
    }
    if (q < 0) {
      throw new ForecastInputError('NEGATIVE_QUANTITY', `history[${i}].quantity is negative (${q}); returns should be netted out before forecasting demand`, i);
    }
    byDay.set(day, (byDay.get(day) ?? 0) + q);
  }
  const notes: string[] = [];
  if (byDay.size < history.length) notes.push(`${history.length - byDay.size} duplicate date(s) summed`);
  const days = [...byDay.keys()].sort((a, b) => a - b);
  const inferred = inferFrequency(days);
  const frequency = forced ?? inferred.frequency;
  if (forced === undefined && days.length === 1) notes.push('single observation: frequency assumed daily');

  let out: PreparedSeries;
  if (frequency === 'D') out = denseDaily(days, byDay, notes);
  else if (frequency === 'W') out = denseWeekly(days, byDay, notes, inferred.frequency === 'D' && days.length > 1);
  else out = denseMonthly(days, byDay, notes, inferred.frequency === 'D' && days.length > 1, inferred.monthLabel);
  return out;
}

export function inferFrequency(days: number[]): { frequency: Frequency; monthLabel?: MonthLabel } {
  if (days.length < 2) return { frequency: 'D' };
  let minGap = Infinity;
  for (let i = 1; i < days.length; i++) minGap = Math.min(minGap, days[i] - days[i - 1]);
  if (minGap >= 28) {
    const ymd = days.map(toYMD);
    const sameDom = ymd.every((x) => x.d === ymd[0].d);
    const allEnd = ymd.every((x) => x.d === daysInMonth(x.y, x.m));
    if (allEnd) return { frequency: 'M', monthLabel: { kind: 'end' } };
    if (sameDom) return { frequency: 'M', monthLabel: { kind: 'dom', dom: ymd[0].d } };
  }
  if (minGap >= 7 && days.every((d) => (d - days[0]) % 7 === 0)) return { frequency: 'W' };
  return { frequency: 'D' };
}

function finish(frequency: Frequency, values: Float64Array, daysOut: Int32Array, notes: string[], monthLabel?: MonthLabel): PreparedSeries {
  const calendar: PeriodCalendar = { frequency, lastDay: daysOut[daysOut.length - 1] };
  if (monthLabel) calendar.monthLabel = monthLabel;
  return { frequency, values, days: daysOut, calendar, notes };
}

function denseDaily(days: number[], byDay: Map<number, number>, notes: string[]): PreparedSeries {
  const first = days[0];
  const n = days[days.length - 1] - first + 1;
  const values = new Float64Array(n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = first + i;
  for (const [d, q] of byDay) values[d - first] += q;
  const missing = n - days.length;
  if (missing > 0) notes.push(`${missing} missing day(s) between first and last date counted as zero sales`);
  return finish('D', values, out, notes);
}

function denseWeekly(days: number[], byDay: Map<number, number>, notes: string[], aggregating: boolean): PreparedSeries {
  const last = days[days.length - 1];
  // Buckets end on the last date so the most recent week is complete; bucket k starts at last-6-7(K-1-k).
  const K = Math.floor((last - days[0]) / 7) + 1;
  const start0 = last - 7 * (K - 1) - (aggregating ? 6 : 0);
  const values = new Float64Array(K);
  const out = new Int32Array(K);
  for (let k = 0; k < K; k++) out[k] = start0 + 7 * k;
  for (const [d, q] of byDay) values[Math.floor((d - start0) / 7)] += q;
  let from = 0;
  if (aggregating && days[0] > start0) {
    from = 1; // first week only partly covered by data
    notes.push(`partial first week (from ${formatDay(days[0])}) dropped when aggregating to weekly`);
  }
  const filled = countZeroBuckets(days, (d) => Math.floor((d - start0) / 7), K) - from;
  if (!aggregating && filled > 0) notes.push(`${filled} missing week(s) counted as zero sales`);
  if (from === K) return finish('W', values, out, notes); // single partial bucket: keep it rather than return nothing
  return finish('W', values.slice(from), out.slice(from), notes);
}

function denseMonthly(
  days: number[],
  byDay: Map<number, number>,
  notes: string[],
  aggregating: boolean,
  label: MonthLabel | undefined,
): PreparedSeries {
  const monthLabel: MonthLabel = aggregating || !label ? { kind: 'dom', dom: 1 } : label;
  const m0 = monthIndex(days[0]);
  const m1 = monthIndex(days[days.length - 1]);
  const K = m1 - m0 + 1;
  const values = new Float64Array(K);
  const out = new Int32Array(K);
  for (let k = 0; k < K; k++) out[k] = monthLabelDay(m0 + k, monthLabel);
  for (const [d, q] of byDay) values[monthIndex(d) - m0] += q;
  let from = 0;
  let to = K;
  if (aggregating) {
    const f = toYMD(days[0]);
    const l = toYMD(days[days.length - 1]);
    if (f.d !== 1 && K > 1) {
      from = 1;
      notes.push('partial first month dropped when aggregating to monthly');
    }
    if (l.d !== daysInMonth(l.y, l.m) && to - from > 1) {
      to = K - 1;
      notes.push('partial last month dropped when aggregating to monthly');
    }
  } else {
    const filled = countZeroBuckets(days, (d) => monthIndex(d) - m0, K);
    if (filled > 0) notes.push(`${filled} missing month(s) counted as zero sales`);
  }
  return finish('M', values.slice(from, to), out.slice(from, to), notes, monthLabel);
}

function countZeroBuckets(days: number[], bucket: (d: number) => number, K: number): number {
  const seen = new Uint8Array(K);
  for (const d of days) seen[bucket(d)] = 1;
  let c = 0;
  for (let k = 0; k < K; k++) if (!seen[k]) c++;
  return c;
}

/** Epoch days labelling the `count` periods after the calendar's last period. */
export function futureDays(cal: PeriodCalendar, count: number): number[] {
  const out: number[] = [];
  if (cal.frequency === 'D') for (let k = 1; k <= count; k++) out.push(cal.lastDay + k);
  else if (cal.frequency === 'W') for (let k = 1; k <= count; k++) out.push(cal.lastDay + 7 * k);
  else {
    const m = monthIndex(cal.lastDay);
    const label = cal.monthLabel ?? { kind: 'dom', dom: toYMD(cal.lastDay).d };
    for (let k = 1; k <= count; k++) out.push(monthLabelDay(m + k, label));
  }
  return out;
}

/** The first `n` periods of a series, as if history had ended there (used by the backtest). */
export function truncateSeries(s: PreparedSeries, n: number): PreparedSeries {
  const days = s.days.slice(0, n);
  return {
    frequency: s.frequency,
    values: s.values.slice(0, n),
    days,
    calendar: { ...s.calendar, lastDay: days[n - 1] },
    notes: [],
  };
}
