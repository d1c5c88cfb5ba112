import { describe, expect, it } from "vitest";
import { isoTime } from "../src/index";

describe("isoTime", () => {
  it("writes what Date#toISOString writes, at day, hour and millisecond edges and across years", () => {
    const edges = [0, 1, 999, 1000, 59_999, 3_599_999, 86_399_999, 86_400_000, 951_782_400_000 /* 2000-02-29 */, 1_709_164_800_000 /* 2024-02-29 */, 253_402_300_799_999];
    for (const ms of edges) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
    // Pseudo-random instants over 1970–9999, in and out of order (the day cache must not leak between days).
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const ms = i % 2 ? Math.floor((seed / 2 ** 31) * 253_402_300_799_999) : 1_765_000_000_000 + seed;
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it("hands non-integers, negatives and years past 9999 to the builtin, and NaN still throws its RangeError", () => {
    for (const ms of [1.7, -1, -86_400_001, 253_402_300_800_000, 8.64e15]) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });
});
