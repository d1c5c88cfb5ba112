// IANA time zones through Intl (Node 20 ships full ICU, so no tz database of
// our own). Wall times are handled as "wall ms": the local calendar fields
// encoded as if they were UTC, which makes calendar arithmetic plain integers.
import { ValidationError } from "@millrace/runtime";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** True when Intl knows the zone (IANA names, "UTC", links such as "US/Eastern"). */
export function isValidTimeZone(tz: string): boolean {
  if (!tz || tz.length > 64) return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** Throws ValidationError naming the `timezone` field when the zone is unknown. */
export function assertTimeZone(tz: string): void {
  if (!isValidTimeZone(tz)) {
    throw new ValidationError(`invalid time zone "${tz}": expected an IANA name such as "UTC" or "Europe/London"`, { field: "timezone" });
  }
}

/** The wall-clock reading of `ms` in `tz`, as wall ms (second precision). */
export function wallMs(ms: number, tz: string): number {
  const parts = formatter(tz).formatToParts(new Date(ms));
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  for (const p of parts) {
    switch (p.type) {
      case "year":
        year = Number(p.value);
        break;
      case "month":
        month = Number(p.value);
        break;
      case "day":
        day = Number(p.value);
        break;
      case "hour":
        hour = Number(p.value);
        break;
      case "minute":
        minute = Number(p.value);
        break;
      case "second":
        second = Number(p.value);
        break;
    }
  }
  return Date.UTC(year, month - 1, day, hour, minute, second) + (((ms % 1000) + 1000) % 1000);
}

/** UTC offset of `tz` at instant `ms`, in ms (east positive). */
export function offsetMs(ms: number, tz: string): number {
  return wallMs(ms, tz) - ms;
}

/**
 * What a wall time maps to: one instant normally, two in a fall-back overlap
 * (earlier first), none in a spring-forward gap. For a gap, `gapEnd` is the
 * first valid instant after it (the transition itself).
 */
export type Resolution = { kind: "single"; at: number } | { kind: "overlap"; first: number; second: number } | { kind: "gap"; gapEnd: number };

export function resolveWall(wall: number, tz: string): Resolution {
  // Offsets a day either side bracket any single transition near `wall`.
  const before = offsetMs(wall - DAY_MS, tz);
  const after = offsetMs(wall + DAY_MS, tz);
  const found: number[] = [];
  for (const off of before === after ? [before] : [before, after]) {
    const at = wall - off;
    if (offsetMs(at, tz) === off) found.push(at);
  }
  if (found.length === 0 && before === after) {
    // A transition and its reversal both inside the two-day window: probe the offset at the guess itself.
    const off = offsetMs(wall - before, tz);
    if (offsetMs(wall - off, tz) === off) found.push(wall - off);
  }
  found.sort((a, b) => a - b);
  if (found.length === 1) return { kind: "single", at: found[0] };
  if (found.length === 2) return { kind: "overlap", first: found[0], second: found[1] };
  return { kind: "gap", gapEnd: transitionAfter(wall - after, wall - before, tz) };
}

/**
 * The first instant in (lo, hi] whose offset differs from the offset at lo
 * (binary search to the millisecond; gaps are rare, so the cost is fine).
 */
function transitionAfter(lo: number, hi: number, tz: string): number {
  const start = offsetMs(lo, tz);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetMs(mid, tz) === start) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Calendar fields of a wall-ms value. */
export function wallFields(wall: number): { year: number; month: number; day: number; hour: number; minute: number; dow: number } {
  const d = new Date(wall);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    dow: d.getUTCDay(),
  };
}
