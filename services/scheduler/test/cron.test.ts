import { describe, expect, it } from "vitest";
import { ValidationError } from "@millrace/runtime";
import { nextCronFire, parseCron, prevCronFire } from "../src/cron";
import { assertTimeZone, resolveWall } from "../src/timezone";
import { lastFireAtOrBefore, nextFireAfter, timingOf } from "../src/timing";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The next `n` fires after `from`, as ISO strings. */
function fires(expr: string, tz: string, from: string, n: number): string[] {
  const spec = parseCron(expr);
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    const next = nextCronFire(spec, t, tz);
    if (next === null) break;
    out.push(iso(next)!);
    t = next;
  }
  return out;
}

function cronFieldError(expr: string): ValidationError {
  try {
    parseCron(expr);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error(`"${expr}" parsed`);
}

describe("cron parsing", () => {
  it("expands ranges, steps, lists and names", () => {
    const s = parseCron("*/15 9-17/4 1,15 JAN-mar mon-fri");
    expect(s.minutes).toEqual([0, 15, 30, 45]);
    expect(s.hours).toEqual([9, 13, 17]);
    expect(s.doms.flatMap((v, i) => (v ? [i] : []))).toEqual([1, 15]);
    expect(s.months.flatMap((v, i) => (v ? [i] : []))).toEqual([1, 2, 3]);
    expect(s.dows.flatMap((v, i) => (v ? [i] : []))).toEqual([1, 2, 3, 4, 5]);
    expect(parseCron("0 0 * * 7").dows[0]).toBe(true);
    expect(parseCron("0 0 * * MON-SUN").dows.every(Boolean)).toBe(true);
    expect(parseCron("5/20 * * * *").minutes).toEqual([5, 25, 45]);
  });

  it("knows the @ shortcuts", () => {
    expect(parseCron("@daily").minutes).toEqual([0]);
    expect(parseCron("@hourly").hours).toHaveLength(24);
    expect(parseCron("@weekly").dows.flatMap((v, i) => (v ? [i] : []))).toEqual([0]);
    expect(parseCron("@yearly").months.flatMap((v, i) => (v ? [i] : []))).toEqual([1]);
  });

  it("rejects bad expressions with a message naming the problem and field cron", () => {
    for (const [expr, why] of [
      ["", "empty"],
      ["* * * *", "expected 5 fields"],
      ["60 * * * *", "minute value 60 is out of range 0-59"],
      ["* 24 * * *", "hour value 24"],
      ["* * 0 * *", "day-of-month value 0"],
      ["* * * 13 *", "month value 13"],
      ["* * * FOO *", "not a number or a name"],
      ["*/0 * * * *", "step"],
      ["5-1 * * * *", "runs backwards"],
      ["1,,2 * * * *", "empty list item"],
      ["@reboot", "unknown shortcut"],
    ] as const) {
      const err = cronFieldError(expr);
      expect(err.field).toBe("cron");
      expect(err.message).toContain(why);
    }
  });

  it("rejects an unknown time zone naming field timezone", () => {
    expect(() => assertTimeZone("Mars/Olympus_Mons")).toThrowError(/invalid time zone "Mars\/Olympus_Mons"/);
    try {
      timingOf({ cron: "0 2 * * *", intervalSeconds: 0, timezone: "Nowhere/Land", anchorMs: 0 });
    } catch (err) {
      expect((err as ValidationError).field).toBe("timezone");
    }
    expect(() => timingOf({ cron: "0 2 * * *", intervalSeconds: 5, timezone: "UTC", anchorMs: 0 })).toThrowError(/not both/);
  });
});

describe("next fire in UTC", () => {
  it("finds the nightly 02:00 run strictly after a time", () => {
    expect(fires("0 2 * * *", "UTC", "2026-01-10T01:59:59.999Z", 2)).toEqual(["2026-01-10T02:00:00.000Z", "2026-01-11T02:00:00.000Z"]);
    // Exactly at the fire time, the next one is tomorrow.
    expect(fires("0 2 * * *", "UTC", "2026-01-10T02:00:00.000Z", 1)).toEqual(["2026-01-11T02:00:00.000Z"]);
  });

  it("every 6 hours, and every minute", () => {
    expect(fires("0 */6 * * *", "UTC", "2026-01-10T05:00:00Z", 3)).toEqual(["2026-01-10T06:00:00.000Z", "2026-01-10T12:00:00.000Z", "2026-01-10T18:00:00.000Z"]);
    expect(fires("* * * * *", "UTC", "2026-01-10T05:00:30Z", 2)).toEqual(["2026-01-10T05:01:00.000Z", "2026-01-10T05:02:00.000Z"]);
  });

  it("ORs day-of-month and day-of-week when both are restricted, ANDs otherwise", () => {
    // 2026-02-01 is a Sunday; the 13th is a Friday.
    expect(fires("0 0 13 * FRI", "UTC", "2026-02-01T00:00:00Z", 3)).toEqual(["2026-02-06T00:00:00.000Z", "2026-02-13T00:00:00.000Z", "2026-02-20T00:00:00.000Z"]);
    expect(fires("0 0 */10 * FRI", "UTC", "2026-02-01T00:00:00Z", 2)).toEqual(["2026-05-01T00:00:00.000Z", "2026-07-31T00:00:00.000Z"]);
  });

  it("walks to the next leap day, and gives up on a date that never exists", () => {
    expect(fires("0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", 2)).toEqual(["2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z"]);
    expect(nextCronFire(parseCron("0 0 30 2 *"), at("2026-01-01T00:00:00Z"), "UTC")).toBeNull();
  });

  it("finds the latest fire at or before a time", () => {
    const s = parseCron("0 2 * * *");
    expect(iso(prevCronFire(s, at("2026-01-10T02:00:00Z"), "UTC"))).toBe("2026-01-10T02:00:00.000Z");
    expect(iso(prevCronFire(s, at("2026-01-10T01:59:59Z"), "UTC"))).toBe("2026-01-09T02:00:00.000Z");
    expect(iso(prevCronFire(parseCron("0 0 29 2 *"), at("2026-06-01T00:00:00Z"), "UTC"))).toBe("2024-02-29T00:00:00.000Z");
  });
});

describe("time zones and daylight saving", () => {
  it("resolves wall times: normal, gap, overlap", () => {
    expect(resolveWall(at("2026-01-15T02:30:00Z"), "America/New_York")).toEqual({ kind: "single", at: at("2026-01-15T07:30:00Z") });
    // Spring forward: 02:00 EST becomes 03:00 EDT at 07:00Z.
    expect(resolveWall(at("2026-03-08T02:30:00Z"), "America/New_York")).toEqual({ kind: "gap", gapEnd: at("2026-03-08T07:00:00Z") });
    // Fall back: 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
    expect(resolveWall(at("2026-11-01T01:30:00Z"), "America/New_York")).toEqual({ kind: "overlap", first: at("2026-11-01T05:30:00Z"), second: at("2026-11-01T06:30:00Z") });
  });

  it("fires 02:00 New York at 07:00Z in winter and 06:00Z in summer", () => {
    expect(fires("0 2 * * *", "America/New_York", "2026-01-10T00:00:00Z", 1)).toEqual(["2026-01-10T07:00:00.000Z"]);
    expect(fires("0 2 * * *", "America/New_York", "2026-07-10T00:00:00Z", 1)).toEqual(["2026-07-10T06:00:00.000Z"]);
  });

  it("spring forward: a skipped 02:30 fires once, at the first instant after the gap (03:00 EDT)", () => {
    expect(fires("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3)).toEqual([
      "2026-03-08T07:00:00.000Z", // 03:00 EDT
      "2026-03-09T06:30:00.000Z", // 02:30 EDT
      "2026-03-10T06:30:00.000Z",
    ]);
    // Several skipped times collapse into one fire, which also covers 03:00 itself.
    expect(fires("0,15,30,45 2,3 * * *", "America/New_York", "2026-03-08T06:00:00Z", 4)).toEqual([
      "2026-03-08T07:00:00.000Z",
      "2026-03-08T07:15:00.000Z",
      "2026-03-08T07:30:00.000Z",
      "2026-03-08T07:45:00.000Z",
    ]);
  });

  it("fall back: a repeated 01:30 fires once, at its first occurrence (EDT)", () => {
    expect(fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2)).toEqual(["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
    // Asking again from inside the repeated hour does not produce the second 01:30.
    expect(fires("30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", 1)).toEqual(["2026-11-02T06:30:00.000Z"]);
    expect(iso(prevCronFire(parseCron("30 1 * * *"), at("2026-11-01T07:00:00Z"), "America/New_York"))).toBe("2026-11-01T05:30:00.000Z");
  });

  it("wildcard schedules follow elapsed time across both changes", () => {
    // Every 30 minutes keeps a 30-minute rhythm through the repeated hour.
    expect(fires("*/30 * * * *", "America/New_York", "2026-11-01T04:50:00Z", 5)).toEqual([
      "2026-11-01T05:00:00.000Z", // 01:00 EDT
      "2026-11-01T05:30:00.000Z", // 01:30 EDT
      "2026-11-01T06:00:00.000Z", // 01:00 EST
      "2026-11-01T06:30:00.000Z", // 01:30 EST
      "2026-11-01T07:00:00.000Z", // 02:00 EST
    ]);
    // Hourly: the nonexistent 02:05 is not invented.
    expect(fires("5 * * * *", "America/New_York", "2026-03-08T06:00:00Z", 2)).toEqual(["2026-03-08T06:05:00.000Z", "2026-03-08T07:05:00.000Z"]);
  });

  it("Europe/London: 01:30 skipped in March and repeated in October", () => {
    // BST starts 2026-03-29 at 01:00 GMT; 01:00-02:00 local does not exist.
    expect(fires("30 1 * * *", "Europe/London", "2026-03-28T12:00:00Z", 2)).toEqual(["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]);
    // BST ends 2026-10-25 at 01:00 GMT; 01:30 happens twice.
    expect(fires("30 1 * * *", "Europe/London", "2026-10-24T12:00:00Z", 2)).toEqual(["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
  });

  it("Australia/Lord_Howe: a 30-minute daylight-saving shift", () => {
    // 2026-10-04 02:00 (+10:30) jumps to 02:30 (+11): 02:15 fires at 02:30 local.
    expect(fires("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", 2)).toEqual(["2026-10-03T15:30:00.000Z", "2026-10-04T15:15:00.000Z"]);
    // 2026-04-05 02:00 (+11) falls back to 01:30 (+10:30): 01:45 fires once, at +11.
    expect(fires("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", 2)).toEqual(["2026-04-04T14:45:00.000Z", "2026-04-05T15:15:00.000Z"]);
  });

  it("a zone east of UTC crosses the date line correctly", () => {
    // 02:00 in Tokyo (+9) is 17:00Z the previous day.
    expect(fires("0 2 * * MON", "Asia/Tokyo", "2026-01-01T00:00:00Z", 1)).toEqual(["2026-01-04T17:00:00.000Z"]);
  });
});

describe("interval schedules", () => {
  const t = timingOf({ cron: "", intervalSeconds: 10, timezone: "UTC", anchorMs: 1_000 });

  it("fire every N seconds aligned to the anchor", () => {
    expect(nextFireAfter(t, 0)).toBe(11_000);
    expect(nextFireAfter(t, 1_000)).toBe(11_000);
    expect(nextFireAfter(t, 10_999)).toBe(11_000);
    expect(nextFireAfter(t, 11_000)).toBe(21_000);
    expect(lastFireAtOrBefore(t, 10_999)).toBeNull();
    expect(lastFireAtOrBefore(t, 21_000)).toBe(21_000);
    expect(lastFireAtOrBefore(t, 30_999)).toBe(21_000);
  });

  it("need a positive interval when there is no cron", () => {
    expect(() => timingOf({ cron: "", intervalSeconds: 0, timezone: "UTC", anchorMs: 0 })).toThrowError(/positive interval_seconds/);
  });
});
