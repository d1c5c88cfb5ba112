// Calendar arithmetic on "epoch days" (days since 1970-01-01, UTC), so time zones never shift a date.

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;

/** Epoch day for a strict YYYY-MM-DD string, or null if it is not a real calendar date. */
export function parseDay(s: unknown): number | null {
  if (typeof s !== 'string') return null;
  const m = DATE_RE.exec(s);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return null;
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Date.UTC rolls 2023-02-30 over into March; reject instead of guessing.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return Math.round(ms / MS_PER_DAY);
}

export function formatDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

export interface YMD {
  y: number;
  m: number; // 1..12
  d: number;
}

export function toYMD(day: number): YMD {
  const dt = new Date(day * MS_PER_DAY);
  return { y: dt.getUTCFullYear(), m: dt.getUTCMonth() + 1, d: dt.getUTCDate() };
}

export function fromYMD(y: number, m: number, d: number): number {
  return Math.round(Date.UTC(y, m - 1, d) / MS_PER_DAY);
}

export function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Months since year 0, a linear index for monthly bucketing. */
export function monthIndex(day: number): number {
  const { y, m } = toYMD(day);
  return y * 12 + (m - 1);
}

/**
 * How a monthly series labels its periods: a fixed day of month (clamped to the month's length)
 * or the last day of the month.
 */
export type MonthLabel = { kind: 'dom'; dom: number } | { kind: 'end' };

export function monthLabelDay(monthIdx: number, label: MonthLabel): number {
  const y = Math.floor(monthIdx / 12);
  const m = (monthIdx % 12) + 1;
  const dim = daysInMonth(y, m);
  const d = label.kind === 'end' ? dim : Math.min(label.dom, dim);
  return fromYMD(y, m, d);
}

/** ISO weekday, Monday = 0 … Sunday = 6. 1970-01-01 was a Thursday. */
export function weekday(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}
