// Holiday / event regressors.
// Daily series: one indicator column per (holiday name, day offset within its window), like Prophet.
// Weekly/monthly series: one column per holiday name holding the share of the window's days that fall
// in the period (a 3-day event straddling two weeks splits 2/3 and 1/3).
// Coefficients get a Gaussian prior (ridge); only columns that are non-zero somewhere in the training
// history are kept, since an effect never observed cannot be estimated.

import { ForecastInputError } from './errors';
import { monthIndex, parseDay } from './calendar';
import type { Frequency, Holiday } from './types';

/** [epochDay, lowerWindow, upperWindow] */
export type Occurrence = [number, number, number];

export interface HolidaySpec {
  /** name -> occurrences */
  occurrences: Record<string, Occurrence[]>;
  /** Kept columns: offset is null for W/M (whole window per period). */
  columns: { name: string; offset: number | null }[];
  frequency: Frequency;
  /** Any label day of the series, anchors weekly buckets. */
  anchorDay: number;
  /** Columns active in the history but left out by the MAX_HOLIDAY_COLUMNS cap. */
  dropped?: number;
}

/**
 * At most this many holiday columns are fitted. Each daily holiday adds one
 * column per day of its window (up to 121), and the fit solves a system that
 * grows with the cube of its columns: 20 holidays with ±30-day windows took
 * 32 s, in a worker's main thread. The columns active on the most history days stay.
 */
export const MAX_HOLIDAY_COLUMNS = 120;

export function parseHolidays(list: Holiday[] | undefined): Record<string, Occurrence[]> {
  const out: Record<string, Occurrence[]> = {};
  if (list === undefined) return out;
  if (!Array.isArray(list)) throw new ForecastInputError('BAD_OPTION', 'holidays must be an array');
  list.forEach((h, i) => {
    if (!h || typeof h.name !== 'string' || h.name.length === 0) {
      throw new ForecastInputError('BAD_OPTION', `holidays[${i}].name must be a non-empty string`);
    }
    const day = parseDay(h.date);
    if (day === null) throw new ForecastInputError('BAD_OPTION', `holidays[${i}].date ${JSON.stringify(h.date)} is not a valid YYYY-MM-DD date`);
    const lo = h.lowerWindow ?? 0;
    const hi = h.upperWindow ?? 0;
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo > 0 || hi < 0 || lo < -60 || hi > 60) {
      throw new ForecastInputError('BAD_OPTION', `holidays[${i}] windows must be integers with -60 <= lowerWindow <= 0 <= upperWindow <= 60`);
    }
    (out[h.name] ??= []).push([day, lo, hi]);
  });
  return out;
}

function periodKey(freq: Frequency, anchorDay: number, day: number): number {
  if (freq === 'D') return day;
  if (freq === 'W') return Math.floor((day - anchorDay) / 7);
  return monthIndex(day);
}

/** Per-column lookup: period key -> value. */
type Lookup = Map<number, number>[];

function buildLookup(spec: Omit<HolidaySpec, 'columns'>, cols: { name: string; offset: number | null }[]): Lookup {
  return cols.map(({ name, offset }) => {
    const m = new Map<number, number>();
    for (const [day, lo, hi] of spec.occurrences[name] ?? []) {
      if (offset !== null) {
        if (offset < lo || offset > hi) continue;
        m.set(day + offset, 1);
      } else {
        const len = hi - lo + 1;
        for (let o = lo; o <= hi; o++) {
          const k = periodKey(spec.frequency, spec.anchorDay, day + o);
          m.set(k, (m.get(k) ?? 0) + 1 / len);
        }
      }
    }
    return m;
  });
}

/** Chooses columns that are active somewhere in `trainDays`. */
export function makeHolidaySpec(
  occurrences: Record<string, Occurrence[]>,
  freq: Frequency,
  trainDays: Int32Array,
): HolidaySpec {
  const anchorDay = trainDays[trainDays.length - 1];
  const firstDay = trainDays[0];
  const candidates: { name: string; offset: number | null }[] = [];
  for (const name of Object.keys(occurrences).sort()) {
    // Names with no occurrence near the history cannot be active in it (a month of slack covers W/M buckets).
    if (!occurrences[name].some(([day, l, h]) => day + h >= firstDay - 31 && day + l <= anchorDay + 31)) continue;
    if (freq === 'D') {
      let lo = 0;
      let hi = 0;
      for (const [, l, h] of occurrences[name]) {
        lo = Math.min(lo, l);
        hi = Math.max(hi, h);
      }
      for (let o = lo; o <= hi; o++) candidates.push({ name, offset: o });
    } else candidates.push({ name, offset: null });
  }
  const base = { occurrences, frequency: freq, anchorDay };
  const lookup = buildLookup(base, candidates);
  const active = candidates.map((_, c) => {
    let n = 0;
    for (const d of trainDays) if (lookup[c].has(periodKey(freq, anchorDay, d))) n++;
    return n;
  });
  let kept = candidates.map((_, c) => c).filter((c) => active[c] > 0);
  const inHistory = kept.length;
  if (kept.length > MAX_HOLIDAY_COLUMNS) {
    // Most active days first, then nearest the holiday itself; kept in their original order.
    const rank = [...kept].sort((a, b) => active[b] - active[a] || Math.abs(candidates[a].offset ?? 0) - Math.abs(candidates[b].offset ?? 0) || a - b);
    kept = rank.slice(0, MAX_HOLIDAY_COLUMNS).sort((a, b) => a - b);
  }
  return { ...base, columns: kept.map((c) => candidates[c]), dropped: inHistory - kept.length };
}

export interface HolidayWriter {
  width: number;
  write(day: number, row: Float32Array | Float64Array, o: number): void;
}

export function holidayWriter(spec: HolidaySpec): HolidayWriter {
  const lookup = buildLookup(spec, spec.columns);
  return {
    width: spec.columns.length,
    write(day, row, o) {
      const k = periodKey(spec.frequency, spec.anchorDay, day);
      for (let c = 0; c < lookup.length; c++) row[o + c] = lookup[c].get(k) ?? 0;
    },
  };
}
