import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY, loadConfig, mergeRetry, retryDelayMs, z, ConfigError } from "@millrace/runtime";

describe("retry backoff", () => {
  const policy = { maxAttempts: 5, initialMs: 100, factor: 2, maxMs: 1_000, jitter: 0 };
  it("grows exponentially and caps", () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(policy, a))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it("draws the jitter fraction at random", () => {
    const p = { ...policy, jitter: 0.5 };
    expect(retryDelayMs(p, 2, () => 0)).toBe(100);
    expect(retryDelayMs(p, 2, () => 1)).toBe(200);
  });
  it("merges request overrides over kind defaults", () => {
    expect(mergeRetry(DEFAULT_RETRY, { maxAttempts: 7 })).toMatchObject({ maxAttempts: 7, initialMs: DEFAULT_RETRY.initialMs });
  });
});

describe("config", () => {
  it("names the bad key", () => {
    const schema = z.object({ PORT: z.coerce.number().int().positive() });
    expect(() => loadConfig(schema, { PORT: "abc" })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { PORT: "abc" })).toThrow(/PORT/);
    expect(loadConfig(schema, { PORT: "8080" }).PORT).toBe(8080);
  });
});
