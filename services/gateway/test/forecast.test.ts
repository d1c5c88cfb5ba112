// Sales history, products and forecasting jobs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Job, TaskState } from "@millrace/contracts";
import { uniqueName } from "@millrace/testkit";
import { createHarness, requester, token, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.cleanup());

const lastJob = (kind: string): Promise<Job> => h.lastJob(kind);

const salesCount = async (tenant: string) => (await h.db.pool.query("select count(*)::int as n from sales where tenant = $1", [tenant])).rows[0].n as number;

describe("POST /v1/sales", () => {
  it("upserts JSON rows idempotently per sku and date", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    const rows = [
      { product_sku: "BRD-001", date: "2024-01-01", quantity: 10 },
      { product_sku: "BRD-001", date: "2024-01-02", quantity: 12 },
      { product_sku: "MLK-002", date: "2024-01-01", quantity: 3.5 },
    ];
    const res = await req("POST", "/v1/sales", { rows });
    expect(res.status).toBe(200);
    expect(await res.json() as any).toEqual({ rows: 3, products: 2 });
    // Again, with one changed quantity: same row count, last value wins.
    await req("POST", "/v1/sales", { rows: [{ ...rows[0], quantity: 11 }] });
    expect(await salesCount(tenant)).toBe(3);
    const q = await h.db.pool.query("select quantity from sales where tenant = $1 and product_sku = 'BRD-001' and date = '2024-01-01'", [tenant]);
    expect(q.rows[0].quantity).toBe(11);
  });

  it.each([
    [{ product_sku: "A", date: "2024-02-30", quantity: 1 }, "rows[1].date"],
    [{ product_sku: "A", date: "yesterday", quantity: 1 }, "rows[1].date"],
    // A typo'd year would make the filled daily series two millennia long.
    [{ product_sku: "A", date: "0024-02-01", quantity: 1 }, "rows[1].date"],
    [{ product_sku: "A", date: "9024-02-01", quantity: 1 }, "rows[1].date"],
    [{ product_sku: "A", date: "2024-02-01", quantity: -1 }, "rows[1].quantity"],
    [{ product_sku: "A", date: "2024-02-01", quantity: "lots" }, "rows[1].quantity"],
    [{ product_sku: "", date: "2024-02-01", quantity: 1 }, "rows[1].product_sku"],
  ])("400 naming the bad row and nothing stored (%#)", async (bad, field) => {
    const tenant = uniqueName("tenant_");
    const res = await requester(h.app, await token(tenant))("POST", "/v1/sales", { rows: [{ product_sku: "A", date: "2024-01-01", quantity: 1 }, bad] });
    expect(res.status).toBe(400);
    expect((await res.json() as any).error).toMatchObject({ code: "VALIDATION", field, row: 1 });
    expect(await salesCount(tenant)).toBe(0);
  });

  it("takes text/csv, and a bad CSV row rolls back every batch", async () => {
    const tenant = uniqueName("tenant_");
    const auth = { authorization: `Bearer ${await token(tenant)}`, "content-type": "text/csv" };
    const lines = ["date,product_sku,quantity,store"];
    for (let i = 0; i < 12_000; i++) lines.push(`2023-${String((i % 12) + 1).padStart(2, "0")}-${String((i % 28) + 1).padStart(2, "0")},SKU-${i % 400},${i % 17},s1`);
    const ok = await h.app.request("/v1/sales", { method: "POST", headers: auth, body: lines.join("\n") });
    expect(ok.status).toBe(200);
    const okBody = await ok.json() as any;
    expect(okBody).toEqual({ rows: 12_000, products: 400 });
    const stored = await salesCount(tenant);

    const tenant2 = uniqueName("tenant_");
    const bad = [...lines.slice(0, 11_000), "2023-01-01,SKU-1,-5,s1"].join("\n");
    const res = await h.app.request("/v1/sales", { method: "POST", headers: { ...auth, authorization: `Bearer ${await token(tenant2)}` }, body: bad });
    expect(res.status).toBe(400);
    expect((await res.json() as any).error).toMatchObject({ field: "rows[10999].quantity" });
    expect(await salesCount(tenant2)).toBe(0);
    expect(await salesCount(tenant)).toBe(stored);
  });
});

describe("POST /v1/sales (slow CSV upload)", () => {
  it("holds no database connection while the client is still sending, so other tenants are served meanwhile", async () => {
    const tenant = uniqueName("tenant_");
    const enc = new TextEncoder();
    let secondPull!: () => void;
    const waiting = new Promise<void>((r) => (secondPull = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let pulls = 0;
    // The stream hands out its first chunk, then holds the second until the test releases it:
    // its second pull means the gateway has read the first chunk and waits for more.
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        pulls++;
        if (pulls === 1) return ctrl.enqueue(enc.encode("date,product_sku,quantity\n2024-01-01,SKU-A,3\n"));
        secondPull();
        await released;
        ctrl.enqueue(enc.encode("2024-01-02,SKU-A,4\n"));
        ctrl.close();
      },
    });
    const upload = h.app.request("/v1/sales", {
      method: "POST",
      headers: { authorization: `Bearer ${await token(tenant)}`, "content-type": "text/csv" },
      body,
      duplex: "half",
    } as RequestInit);
    await waiting;
    expect(h.db.pool.totalCount - h.db.pool.idleCount).toBe(0);
    const other = await requester(h.app, await token(uniqueName("tenant_")))("GET", "/v1/holidays");
    expect(other.status).toBe(200);
    release();
    const res = await upload;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ rows: 2, products: 1 });
    expect(await salesCount(tenant)).toBe(2);
  });
});

describe("products and forecasts", () => {
  it("lists products with their model status, queues forecasts and training, 404s unknown SKUs", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    await req("POST", "/v1/sales", {
      rows: [
        { product_sku: "BRD-001", date: "2024-01-01", quantity: 10 },
        { product_sku: "BRD-001", date: "2024-01-05", quantity: 12 },
        { product_sku: "MLK-002", date: "2024-01-03", quantity: 3 },
      ],
    });
    await h.db.pool.query(
      "insert into product_models (tenant, product_sku, status, trained_at, accuracy) values ($1, 'BRD-001', 'trained', '2024-02-01T00:00:00Z', $2)",
      [tenant, JSON.stringify({ mape: 12.5 })],
    );
    const products = await (await req("GET", "/v1/products")).json() as any;
    expect(products.products).toEqual([
      { product_sku: "BRD-001", first_date: "2024-01-01", last_date: "2024-01-05", rows: 2, model: { status: "trained", trained_at: "2024-02-01T00:00:00.000Z", accuracy: { mape: 12.5 } } },
      { product_sku: "MLK-002", first_date: "2024-01-03", last_date: "2024-01-03", rows: 1, model: { status: "none", trained_at: null, accuracy: null } },
    ]);

    const before = await h.jobCount();
    const missing = await req("POST", "/v1/forecast/async", { product_sku: "NOPE", days: 7 });
    expect(missing.status).toBe(404);
    expect((await missing.json() as any).error.field).toBe("product_sku");
    expect((await req("POST", "/v1/training/products/NOPE")).status).toBe(404);
    expect((await requester(h.app, await token(uniqueName("empty_")))("POST", "/v1/training/products")).status).toBe(404);
    expect(await h.jobCount()).toBe(before);

    const f = await req("POST", "/v1/forecast/async", { product_sku: "BRD-001", days: 14 });
    expect(f.status).toBe(202);
    const fj = await lastJob("forecast");
    expect(fj.taskId).toBe((await f.json() as any).task_id);
    expect(fj.payload).toEqual({ $case: "forecast", value: { productSku: "BRD-001", days: 14, trainIfMissing: true } });

    const t1 = await req("POST", "/v1/training/products/BRD-001");
    expect(t1.status).toBe(202);
    expect((await lastJob("train_product")).payload).toEqual({ $case: "trainProduct", value: { productSku: "BRD-001" } });
    // `curl -X POST` over HTTP: no Content-Length, and the Node adapter's request has an empty body stream.
    const bare = await h.app.request("/v1/training/products/BRD-001", {
      method: "POST",
      headers: { authorization: `Bearer ${await token(tenant)}` },
      body: new ReadableStream({ start: (ctrl) => ctrl.close() }),
      duplex: "half",
    } as RequestInit);
    expect(bare.status).toBe(202);

    const all = await req("POST", "/v1/training/products", { queue: "default" });
    expect(all.status).toBe(202);
    expect((await lastJob("train_all_products")).payload).toEqual({ $case: "trainAllProducts", value: { productSkus: ["BRD-001", "MLK-002"] } });
    expect(await h.jobCount()).toBe(before + 4);
  });

  it("takes a SKU with '%' in the path once decoded: 202 for one with sales, 404 for one without, never 500", async () => {
    const req = requester(h.app, await token(uniqueName("tenant_")));
    expect((await req("POST", "/v1/sales", { rows: [{ product_sku: "50%OFF", date: "2024-01-01", quantity: 2 }] })).status).toBe(200);
    const t = await req("POST", `/v1/training/products/${encodeURIComponent("50%OFF")}`);
    expect(t.status).toBe(202);
    expect((await lastJob("train_product")).payload).toEqual({ $case: "trainProduct", value: { productSku: "50%OFF" } });
    const none = await req("POST", "/v1/training/products/%25");
    expect(none.status).toBe(404);
    expect((await none.json() as any).error.field).toBe("product_sku");
  });

  it("POST /v1/forecast waits for the result", async () => {
    const tenant = uniqueName("tenant_");
    const req = requester(h.app, await token(tenant));
    await req("POST", "/v1/sales", { rows: [{ product_sku: "X", date: "2024-01-01", quantity: 1 }] });
    h.status.onCreate = (t) => {
      if (t.tenant === tenant) h.status.update(t.taskId, { state: TaskState.SUCCESS, result: { forecast: [{ date: "2024-01-02", yhat: 1 }] } });
    };
    try {
      const res = await req("POST", "/v1/forecast", { product_sku: "X", days: 1 });
      expect(res.status).toBe(200);
      expect(await res.json() as any).toMatchObject({ state: "SUCCESS", type: "forecast", result: { forecast: [{ yhat: 1 }] } });
    } finally {
      h.status.onCreate = undefined;
    }
  });
});
