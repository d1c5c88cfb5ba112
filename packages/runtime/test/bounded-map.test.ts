import { describe, expect, it } from "vitest";
import { BoundedMap } from "@millrace/runtime";

describe("BoundedMap", () => {
  it("drops the oldest entry set once it holds max", () => {
    const m = new BoundedMap<string, number>({ max: 2 });
    m.set("a", 1).set("b", 2);
    expect(m.get("a")).toBe(1); // no touch: reading a does not save it
    m.set("c", 3);
    expect([...m.keys()]).toEqual(["b", "c"]);
    expect(m.size).toBe(2);
  });

  it("with touch, drops the least recently used instead", () => {
    const m = new BoundedMap<string, number>({ max: 2, touch: true });
    m.set("a", 1).set("b", 2);
    expect(m.get("a")).toBe(1);
    m.set("c", 3);
    expect([...m.keys()]).toEqual(["a", "c"]);
    expect(m.has("b")).toBe(false);
  });

  it("setting a key again makes it the newest, without growing", () => {
    const m = new BoundedMap<string, number>({ max: 2 });
    m.set("a", 1).set("b", 2).set("a", 10).set("c", 3);
    expect([...m.keys()]).toEqual(["a", "c"]);
    expect(m.get("a")).toBe(10);
  });

  it("max 0 holds nothing; a bad max is refused", () => {
    const m = new BoundedMap<string, number>({ max: 0 });
    m.set("a", 1);
    expect(m.size).toBe(0);
    expect(m.get("a")).toBeUndefined();
    expect(() => new BoundedMap({ max: -1 })).toThrow(/max must be a whole number/);
    expect(() => new BoundedMap({ max: 1.5 })).toThrow(RangeError);
  });

  it("stays at max under many distinct keys", () => {
    const m = new BoundedMap<number, number>({ max: 100 });
    for (let i = 0; i < 10_000; i++) m.set(i, i);
    expect(m.size).toBe(100);
    expect(m.has(9_900)).toBe(true);
    expect(m.has(9_899)).toBe(false);
    expect(m.delete(9_999)).toBe(true);
    expect(m.size).toBe(99);
  });
});
