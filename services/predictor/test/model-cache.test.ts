// The predictor's loaded models: bounded by artifact bytes, least recently used out first.
import { describe, expect, it } from "vitest";
import type { LoadedModel } from "@millrace/ml";
import { ModelCache } from "../src/model-cache";

const model = (bytes: number) => ({ bytes }) as unknown as LoadedModel;

describe("ModelCache", () => {
  it("keeps total artifact bytes within its bound, dropping the least recently used first", () => {
    const cache = new ModelCache(100);
    cache.set("a", model(40));
    cache.set("b", model(40));
    expect(cache.get("a")).toBeDefined(); // a is now the most recently used
    cache.set("c", model(40)); // 120 > 100: b goes, not a
    expect(cache.keys()).toEqual(["a", "c"]);
    expect(cache.totalBytes).toBe(80);
    expect(cache.get("b")).toBeUndefined();
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
  });

  it("replacing a key counts its bytes once", () => {
    const cache = new ModelCache(100);
    cache.set("a", model(30));
    cache.set("a", model(50));
    expect(cache.size).toBe(1);
    expect(cache.totalBytes).toBe(50);
  });

  it("keeps a single model larger than the bound (it is in use), and drops it for the next", () => {
    const cache = new ModelCache(100);
    cache.set("small", model(10));
    cache.set("huge", model(500));
    expect(cache.keys()).toEqual(["huge"]);
    cache.set("next", model(10));
    expect(cache.keys()).toEqual(["next"]);
    expect(cache.totalBytes).toBe(10);
  });
});
