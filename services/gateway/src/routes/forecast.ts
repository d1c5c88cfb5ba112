// Forecasting: sales history in, per-product models and forecasts out.
import { Hono, type Context } from "hono";
import { inTransaction, NotFoundError, PayloadTooLargeError, ValidationError, z } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { CsvRows } from "../csv-rows";
import { UnsupportedMediaTypeError } from "../errors";
import { forecastFields, forecastPayload, skuSchema } from "../job-bodies";
import { checkHoliday, checkSale, listHolidays, listProducts, requireSku, tenantSkus, upsertHolidays, upsertSales, type SaleRow } from "../sales-store";
import { accepted, submitAndWait, submitTask, type SubmitSpec } from "../submit";
import { CSV_CONTENT_TYPES, contentType, jobOptions, jobOptionsShape, parseWith, readJsonObject } from "../validation";

const BATCH = 5_000;
const forecastBody = forecastFields.extend(jobOptionsShape);
const optionsBody = z.object(jobOptionsShape).strict();
const salesBody = z.object({ rows: z.array(z.unknown()).min(1, "must have at least one row") }).strict();
const holidaysBody = z.object({ holidays: z.array(z.unknown()).min(1, "must have at least one holiday").max(10_000) }).strict();

/** Job options from an optional JSON body (empty body = defaults). */
async function optionalOptions(c: Context<GatewayEnv>, limit: number): Promise<{ raw: unknown; opts: z.infer<typeof optionsBody> }> {
  // Read, not judged by headers: `curl -X POST` sends neither Content-Length nor
  // a body, and the Node adapter still gives the request an (empty) body stream.
  const raw = (await readJsonObject(c, limit, { optional: true })) ?? {};
  return { raw, opts: parseWith(optionsBody, raw) };
}

export function forecastRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  // JSON {rows:[{product_sku, date, quantity}]} or text/csv with those columns.
  // All rows or none: one transaction, the first bad row is a 400 naming it.
  app.post("/sales", async (c) => {
    const tenant = c.get("tenant");
    const ct = contentType(c.req.header("content-type"));
    if (ct === "application/json" || ct === "") {
      const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES);
      const b = parseWith(salesBody, raw);
      const rows = b.rows.map((r, i) => {
        if (!r || typeof r !== "object" || Array.isArray(r)) throw new ValidationError(`rows[${i}]: must be an object`, { field: `rows[${i}]`, details: { row: i } });
        const o = r as Record<string, unknown>;
        return checkSale(i, o.product_sku, o.date, o.quantity);
      });
      await inTransaction(deps.pool, async (client) => {
        for (let i = 0; i < rows.length; i += BATCH) await upsertSales(client, tenant, rows.slice(i, i + BATCH));
      });
      return c.json({ rows: rows.length, products: new Set(rows.map((r) => r.sku)).size });
    }
    if (!CSV_CONTENT_TYPES.has(ct)) throw new UnsupportedMediaTypeError(`send application/json or text/csv (got '${ct}')`, { field: "content-type" });
    return c.json(await storeCsvSales(deps, c, tenant));
  });

  app.get("/products", async (c) => c.json({ products: await listProducts(deps.pool, c.get("tenant")) }));

  // Holidays and events the forecaster fits as regressors (all rows or none).
  app.post("/holidays", async (c) => {
    const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES);
    const b = parseWith(holidaysBody, raw);
    const rows = b.holidays.map((h, i) => checkHoliday(i, h));
    await inTransaction(deps.pool, (client) => upsertHolidays(client, c.get("tenant"), rows));
    return c.json({ holidays: rows.length });
  });
  app.get("/holidays", async (c) => c.json({ holidays: await listHolidays(deps.pool, c.get("tenant")) }));

  async function forecastSpec(c: Context<GatewayEnv>): Promise<SubmitSpec> {
    const raw = await readJsonObject(c, deps.config.MAX_BODY_BYTES);
    const b = parseWith(forecastBody, raw);
    await requireSku(deps.pool, c.get("tenant"), b.product_sku);
    return { kind: "forecast", payload: forecastPayload(b.product_sku, b.days), options: jobOptions(b), name: b.product_sku, body: raw };
  }
  app.post("/forecast/async", async (c) => accepted(deps, c, await submitTask(deps, c, await forecastSpec(c))));
  app.post("/forecast", async (c) => submitAndWait(deps, c, await forecastSpec(c)));

  app.post("/training/products/:sku", async (c) => {
    // Hono has already decoded the path parameter once; decoding again broke SKUs containing '%'.
    const sku = parseWith(skuSchema, c.req.param("sku"), ["product_sku"]);
    const { raw, opts } = await optionalOptions(c, deps.config.MAX_BODY_BYTES);
    await requireSku(deps.pool, c.get("tenant"), sku);
    const s = await submitTask(deps, c, {
      kind: "train_product",
      payload: { $case: "trainProduct", value: { productSku: sku } },
      options: jobOptions(opts),
      name: sku,
      body: { sku, raw },
    });
    return accepted(deps, c, s);
  });

  app.post("/training/products", async (c) => {
    const { raw, opts } = await optionalOptions(c, deps.config.MAX_BODY_BYTES);
    const skus = await tenantSkus(deps.pool, c.get("tenant"));
    if (skus.length === 0) throw new NotFoundError("product_sku: no products with sales to train", { field: "product_sku" });
    const s = await submitTask(deps, c, {
      kind: "train_all_products",
      payload: { $case: "trainAllProducts", value: { productSkus: skus } },
      options: jobOptions(opts),
      body: raw,
    });
    return accepted(deps, c, s);
  });

  return app;
}

/** A CSV reader of sales rows: finds the three columns in the header and checks each row. */
function salesCsv(onRow: (r: SaleRow) => void): CsvRows {
  let idx: { sku: number; date: number; quantity: number } | undefined;
  const reader: CsvRows = new CsvRows({
    onRow: (f, row) => {
      if (!idx) {
        const names = reader.columnNames ?? [];
        const find = (n: string) => {
          const i = names.indexOf(n);
          if (i < 0) throw new ValidationError(`body: the CSV header has no '${n}' column`, { field: "body" });
          return i;
        };
        idx = { sku: find("product_sku"), date: find("date"), quantity: find("quantity") };
      }
      onRow(checkSale(row, f[idx.sku], f[idx.date], f[idx.quantity]));
    },
  });
  return reader;
}

/**
 * Stores a CSV body in the sales table, all rows or none. The whole body is
 * read, and every row checked, before a database connection is taken: a
 * client that sends slowly must not hold one of the pool's connections (that
 * every tenant's requests share) for as long as it likes. Then the rows are
 * written in batches inside one transaction.
 */
async function storeCsvSales(deps: GatewayDeps, c: Context<GatewayEnv>, tenant: string): Promise<{ rows: number; products: number }> {
  const limit = deps.config.MAX_UPLOAD_BYTES;
  const declared = c.req.header("content-length");
  if (declared && Number(declared) > limit) throw new PayloadTooLargeError(`body is larger than ${limit} bytes`, { field: "body" });
  const body = c.req.raw.body;
  if (!body) throw new ValidationError("request body is empty; expected CSV", { field: "body" });
  const chunks: Uint8Array[] = [];
  const skus = new Set<string>();
  let rows = 0;
  const check = salesCsv((r) => {
    skus.add(r.sku);
    rows++;
  });
  const source = body.getReader();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await source.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > limit) throw new PayloadTooLargeError(`body is larger than ${limit} bytes`, { field: "body" });
      chunks.push(value);
      check.push(value);
    }
    check.end();
  } catch (err) {
    source.cancel().catch(() => undefined);
    throw err;
  }
  if (rows === 0) throw new ValidationError("body: the CSV has no data rows", { field: "body" });

  let pending: SaleRow[] = [];
  const write = salesCsv((r) => pending.push(r));
  await inTransaction(deps.pool, async (client) => {
    for (const chunk of chunks) {
      write.push(chunk);
      if (pending.length >= BATCH) {
        const batch = pending;
        pending = [];
        await upsertSales(client, tenant, batch);
      }
    }
    write.end();
    await upsertSales(client, tenant, pending);
  });
  return { rows, products: skus.size };
}
