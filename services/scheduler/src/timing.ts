// When a schedule fires: a cron expression in a time zone, or every N seconds
// counted from the schedule's anchor (its creation time).
import { ValidationError } from "@millrace/runtime";
import { nextCronFire, parseCron, prevCronFire, type CronSpec } from "./cron";
import { assertTimeZone } from "./timezone";

export type Timing = { type: "cron"; spec: CronSpec; tz: string } | { type: "interval"; everyMs: number; anchorMs: number };

export const MAX_INTERVAL_SECONDS = 366 * 86_400;

/** Validates and builds a schedule's timing; errors name the `cron`, `interval_seconds` or `timezone` field. */
export function timingOf(s: { cron: string; intervalSeconds: number; timezone: string; anchorMs: number }): Timing {
  const hasCron = s.cron.trim() !== "";
  if (hasCron && s.intervalSeconds > 0) throw new ValidationError("set either cron or interval_seconds, not both", { field: "cron" });
  if (hasCron) {
    const spec = parseCron(s.cron);
    assertTimeZone(s.timezone);
    return { type: "cron", spec, tz: s.timezone };
  }
  if (!Number.isInteger(s.intervalSeconds) || s.intervalSeconds <= 0) {
    throw new ValidationError("a schedule needs a cron expression or a positive interval_seconds", { field: "cron" });
  }
  if (s.intervalSeconds > MAX_INTERVAL_SECONDS) {
    throw new ValidationError(`interval_seconds must be at most ${MAX_INTERVAL_SECONDS}`, { field: "interval_seconds" });
  }
  // The zone does not move interval schedules, but a bad one is still bad input.
  assertTimeZone(s.timezone);
  return { type: "interval", everyMs: s.intervalSeconds * 1000, anchorMs: s.anchorMs };
}

/** First fire strictly after `afterMs`; null when a cron never matches (e.g. Feb 30). */
export function nextFireAfter(t: Timing, afterMs: number): number | null {
  if (t.type === "cron") return nextCronFire(t.spec, afterMs, t.tz);
  if (afterMs < t.anchorMs) return t.anchorMs + t.everyMs;
  const k = Math.floor((afterMs - t.anchorMs) / t.everyMs) + 1;
  return t.anchorMs + k * t.everyMs;
}

/** Latest fire at or before `atMs`, or null when there is none. */
export function lastFireAtOrBefore(t: Timing, atMs: number): number | null {
  if (t.type === "cron") return prevCronFire(t.spec, atMs, t.tz);
  const k = Math.floor((atMs - t.anchorMs) / t.everyMs);
  return k >= 1 ? t.anchorMs + k * t.everyMs : null;
}

/** The next fire from `nowMs` for a schedule's settings; null when disabled. */
export function nextFireFrom(s: { enabled: boolean; cron: string; intervalSeconds: number; timezone: string; createdAtMs: number }, nowMs: number): number | null {
  if (!s.enabled) return null;
  const next = nextFireAfter(timingOf({ cron: s.cron, intervalSeconds: s.intervalSeconds, timezone: s.timezone, anchorMs: s.createdAtMs }), nowMs);
  if (next === null) throw new ValidationError(`cron expression "${s.cron}" never fires`, { field: "cron" });
  return next;
}
