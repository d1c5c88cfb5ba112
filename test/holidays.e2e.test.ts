// Holidays and events as regressors, through the services: promotion days
// lift sales in the history, so a future promotion day is forecast higher.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, taskIn, type Stack } from "./harness";

const day = (start: string, i: number) => new Date(Date.parse(`${start}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10);

describe("holidays and events in forecasting", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ services: ["status", "trainer", "gateway"] });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it("rejects a bad holiday naming it, and fits holidays so a future promotion is forecast higher", async () => {
    const bad = await stack.api("/v1/holidays", { method: "POST", tenant: "acme", json: { holidays: [{ name: "promo", date: "2026-02-30" }] } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/holidays\[0\]\.date/);

    let s = 5;
    const r = () => ((s = (s * 16807) % 2147483647) / 2147483647);
    const promos = new Set<number>();
    for (let i = 20; i < 420; i += 30) promos.add(i);
    const rows = Array.from({ length: 400 }, (_, i) => ({ product_sku: "SKU-P", date: day("2025-01-01", i), quantity: Math.round(20 + (r() - 0.5) * 6 + (promos.has(i) ? 60 : 0)) }));
    expect((await stack.api("/v1/sales", { method: "POST", tenant: "acme", json: { rows } })).status).toBe(200);
    const holidays = [...promos].map((i) => ({ name: "promo", date: day("2025-01-01", i) }));
    expect((await stack.api("/v1/holidays", { method: "POST", tenant: "acme", json: { holidays } })).status).toBe(200);
    expect((await stack.api("/v1/holidays", { tenant: "acme" })).body.holidays).toHaveLength(holidays.length);

    const f = await stack.api("/v1/forecast/async", { method: "POST", tenant: "acme", json: { product_sku: "SKU-P", days: 14 } });
    const done = await taskIn(stack, "acme", f.body.task_id, ["SUCCESS", "FAILURE"]);
    expect(done.state, JSON.stringify(done.error)).toBe("SUCCESS");
    const chart = done.result.chart_data as { date: string; yhat: number }[];
    const promoDay = day("2025-01-01", 410);
    const onPromo = chart.find((p) => p.date === promoDay)!;
    const others = chart.filter((p) => p.date !== promoDay).map((p) => p.yhat);
    expect(onPromo, JSON.stringify({ method: done.result.method, notes: done.result.notes, chart })).toBeTruthy();
    expect(onPromo.yhat, JSON.stringify({ method: done.result.method, notes: done.result.notes, promoDay })).toBeGreaterThan(2 * Math.max(...others));
  }, 120_000);
});
