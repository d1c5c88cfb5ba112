// Five-field cron (minute hour day-of-month month day-of-week) evaluated in an
// IANA time zone. Daylight-saving rules follow cronie:
//  - fixed-time schedules (neither minute nor hour starts with `*`): a wall time
//    skipped by spring-forward fires once at the first instant after the gap;
//    a wall time repeated by fall-back fires once, at its first occurrence;
//  - wildcard schedules (`*/15 * * * *`, `5 * * * *`, @hourly) follow elapsed
//    time: nonexistent wall times are not fired, repeated ones fire each time,
//    so an hourly job stays hourly across the change.
import { ValidationError } from "@millrace/runtime";
import { DAY_MS, HOUR_MS, MINUTE_MS, resolveWall, wallMs } from "./timezone";

export interface CronSpec {
  source: string;
  minutes: number[];
  hours: number[];
  /** Indexed by day of month (1..31). */
  doms: boolean[];
  /** Indexed by month (1..12). */
  months: boolean[];
  /** Indexed by day of week (0 = Sunday .. 6). */
  dows: boolean[];
  domStar: boolean;
  dowStar: boolean;
  /** Gets the fixed-time DST treatment described above. */
  fixedTime: boolean;
}

const SHORTCUTS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DOW_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface FieldDef {
  label: string;
  min: number;
  max: number;
  names?: string[];
  /** Value the first name stands for (JAN = 1, SUN = 0). */
  nameBase?: number;
}

const FIELDS: FieldDef[] = [
  { label: "minute", min: 0, max: 59 },
  { label: "hour", min: 0, max: 23 },
  { label: "day-of-month", min: 1, max: 31 },
  { label: "month", min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  // 7 is accepted as Sunday, as in Vixie cron.
  { label: "day-of-week", min: 0, max: 7, names: DOW_NAMES, nameBase: 0 },
];

function cronError(expr: string, why: string): ValidationError {
  return new ValidationError(`invalid cron expression "${expr}": ${why}`, { field: "cron" });
}

function parseValue(expr: string, def: FieldDef, token: string): number {
  const upper = token.toUpperCase();
  if (def.names) {
    const i = def.names.indexOf(upper);
    if (i >= 0) return i + (def.nameBase ?? 0);
  }
  if (!/^\d+$/.test(token)) throw cronError(expr, `${def.label} field has "${token}", which is not a number${def.names ? " or a name" : ""}`);
  const n = Number(token);
  if (n < def.min || n > def.max) throw cronError(expr, `${def.label} value ${n} is out of range ${def.min}-${def.max}`);
  return n;
}

function parseField(expr: string, def: FieldDef, text: string): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") throw cronError(expr, `${def.label} field has an empty list item`);
    const [rangePart, stepPart, extra] = item.split("/");
    if (extra !== undefined) throw cronError(expr, `${def.label} field "${item}" has more than one "/"`);
    let step = 1;
    if (stepPart !== undefined) {
      if (!/^\d+$/.test(stepPart) || Number(stepPart) < 1) throw cronError(expr, `${def.label} step "${stepPart}" must be a positive integer`);
      step = Number(stepPart);
    }
    let lo: number;
    let hi: number;
    if (rangePart === "*" || rangePart === "?") {
      lo = def.min;
      hi = def.label === "day-of-week" ? 6 : def.max;
    } else if (rangePart.includes("-")) {
      const [a, b, more] = rangePart.split("-");
      if (more !== undefined || a === "" || b === "") throw cronError(expr, `${def.label} range "${rangePart}" is malformed`);
      lo = parseValue(expr, def, a);
      // "MON-SUN": Sunday closing a range means 7.
      hi = def.label === "day-of-week" && b.toUpperCase() === "SUN" ? 7 : parseValue(expr, def, b);
      if (lo > hi) throw cronError(expr, `${def.label} range "${rangePart}" runs backwards`);
    } else {
      lo = parseValue(expr, def, rangePart);
      // "5/15" means from 5 to the end in steps of 15.
      hi = stepPart !== undefined ? def.max : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(def.label === "day-of-week" && v === 7 ? 0 : v);
  }
  return out;
}

/** Parses a cron expression; throws ValidationError (field "cron") naming what is wrong. */
export function parseCron(expression: string): CronSpec {
  const source = expression.trim();
  if (source === "") throw cronError(expression, "it is empty");
  let text = source;
  if (text.startsWith("@")) {
    const expanded = SHORTCUTS[text.toLowerCase()];
    if (!expanded) throw cronError(expression, `unknown shortcut "${text}" (use @yearly, @monthly, @weekly, @daily or @hourly)`);
    text = expanded;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw cronError(expression, `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  const sets = parts.map((p, i) => parseField(expression, FIELDS[i], p));
  const toFlags = (s: Set<number>, size: number) => Array.from({ length: size }, (_, i) => s.has(i));
  const isStar = (p: string) => p.startsWith("*") || p.startsWith("?");
  return {
    source,
    minutes: [...sets[0]].sort((a, b) => a - b),
    hours: [...sets[1]].sort((a, b) => a - b),
    doms: toFlags(sets[2], 32),
    months: toFlags(sets[3], 13),
    dows: toFlags(sets[4], 7),
    domStar: isStar(parts[2]),
    dowStar: isStar(parts[4]),
    fixedTime: !isStar(parts[0]) && !isStar(parts[1]),
  };
}

function dayMatches(spec: CronSpec, dayWall: number): boolean {
  const d = new Date(dayWall);
  if (!spec.months[d.getUTCMonth() + 1]) return false;
  const dom = spec.doms[d.getUTCDate()];
  const dow = spec.dows[d.getUTCDay()];
  // Vixie cron: when both day fields are restricted, either may match.
  return spec.domStar || spec.dowStar ? dom && dow : dom || dow;
}

/** The instants a matching wall time fires at, per the DST rules above. */
function instantsFor(spec: CronSpec, wall: number, tz: string): number[] {
  const r = resolveWall(wall, tz);
  if (r.kind === "single") return [r.at];
  if (r.kind === "overlap") return spec.fixedTime ? [r.first] : [r.first, r.second];
  return spec.fixedTime ? [r.gapEnd] : [];
}

// Offset changes move a wall time against real time by at most this much
// (cronie uses the same 3-hour bound); candidates further out cannot win.
const MAX_SHIFT_MS = 3 * HOUR_MS;
// Far enough for Feb 29 across a skipped leap year (2100).
const MAX_SCAN_DAYS = 8 * 366 + 2;

/**
 * Walks matching wall times from `bound` in direction `dir` and returns the
 * nearest firing instant strictly after `bound` (dir 1) or at/before it (dir -1).
 */
function scan(spec: CronSpec, tz: string, bound: number, dir: 1 | -1): number | null {
  const start = wallMs(bound, tz) - dir * MAX_SHIFT_MS;
  const hours = dir === 1 ? spec.hours : [...spec.hours].reverse();
  const minutes = dir === 1 ? spec.minutes : [...spec.minutes].reverse();
  let best: number | null = null;
  let bestWall = 0;
  let day = Math.floor(start / DAY_MS) * DAY_MS;
  for (let i = 0; i < MAX_SCAN_DAYS; i++, day += dir * DAY_MS) {
    if (best !== null && (dir === 1 ? day > bestWall + MAX_SHIFT_MS : day + DAY_MS < bestWall - MAX_SHIFT_MS)) break;
    if (!dayMatches(spec, day)) continue;
    hourLoop: for (const h of hours) {
      for (const m of minutes) {
        const wall = day + h * HOUR_MS + m * MINUTE_MS;
        if (dir === 1 ? wall < start : wall > start) continue;
        if (best !== null && (dir === 1 ? wall > bestWall + MAX_SHIFT_MS : wall < bestWall - MAX_SHIFT_MS)) break hourLoop;
        for (const at of instantsFor(spec, wall, tz)) {
          const inRange = dir === 1 ? at > bound : at <= bound;
          if (!inRange) continue;
          if (best === null) bestWall = wall;
          if (best === null || (dir === 1 ? at < best : at > best)) best = at;
        }
      }
    }
  }
  return best;
}

/** First firing instant strictly after `afterMs`, or null if none within 8 years. */
export function nextCronFire(spec: CronSpec, afterMs: number, tz: string): number | null {
  return scan(spec, tz, afterMs, 1);
}

/** Latest firing instant at or before `atMs`, or null if none within 8 years. */
export function prevCronFire(spec: CronSpec, atMs: number, tz: string): number | null {
  return scan(spec, tz, atMs, -1);
}
