// Sales history per (tenant, product_sku, date) and the per-product model
// status the forecasting workers keep (tables: packages/runtime/migrations/004_forecasting.sql).
import { NotFoundError, ValidationError, type Pool, type PoolClient } from "@millrace/runtime";

export interface SaleRow {
  sku: string;
  date: string;
  quantity: number;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$/;
const MIN_SALES_YEAR = 1900;
const MAX_SALES_YEAR = 2199;

function bad(row: number, column: string, message: string): never {
  const field = `rows[${row}].${column}`;
  throw new ValidationError(`${field}: ${message}`, { field, details: { row, column } });
}

/** Validates one input row; `row` is its 0-based index in the request. */
export function checkSale(row: number, sku: unknown, date: unknown, quantity: unknown): SaleRow {
  const s = typeof sku === "number" ? String(sku) : typeof sku === "string" ? sku.trim() : "";
  if (!s || s.length > 128) bad(row, "product_sku", "must be a non-empty string of at most 128 characters");
  const m = typeof date === "string" ? DATE_RE.exec(date.trim()) : null;
  if (!m) bad(row, "date", "must be a date YYYY-MM-DD");
  const day = `${m[1]}-${m[2]}-${m[3]}`;
  const t = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(t.getTime()) || t.toISOString().slice(0, 10) !== day) bad(row, "date", `'${String(date)}' is not a calendar date`);
  // A typo like 0024 would stretch the series (filled day by day) over two millennia.
  const year = Number(m[1]);
  if (year < MIN_SALES_YEAR || year > MAX_SALES_YEAR) bad(row, "date", `year ${m[1]} is outside ${MIN_SALES_YEAR}–${MAX_SALES_YEAR}`);
  const q = typeof quantity === "number" ? quantity : typeof quantity === "string" && quantity.trim() !== "" ? Number(quantity) : NaN;
  if (!Number.isFinite(q)) bad(row, "quantity", "must be a number");
  if (q < 0) bad(row, "quantity", "must not be negative");
  return { sku: s, date: day, quantity: q };
}

/** Upserts a batch inside the caller's transaction; the last row wins for a repeated sku+date. */
export async function upsertSales(client: PoolClient, tenant: string, rows: SaleRow[]): Promise<void> {
  if (rows.length === 0) return;
  const byKey = new Map<string, SaleRow>();
  for (const r of rows) byKey.set(`${r.sku}\u0000${r.date}`, r);
  const uniq = [...byKey.values()];
  await client.query(
    `insert into sales (tenant, product_sku, date, quantity)
     select $1, s, d, q from unnest($2::text[], $3::date[], $4::float8[]) as u(s, d, q)
     on conflict (tenant, product_sku, date) do update set quantity = excluded.quantity, updated_at = now()`,
    [tenant, uniq.map((r) => r.sku), uniq.map((r) => r.date), uniq.map((r) => r.quantity)],
  );
}


export async function requireSku(pool: Pool, tenant: string, sku: string): Promise<void> {
  const r = await pool.query("select 1 from sales where tenant = $1 and product_sku = $2 limit 1", [tenant, sku]);
  if (!r.rowCount) throw new NotFoundError(`product_sku: no sales recorded for '${sku}'`, { field: "product_sku" });
}

export async function tenantSkus(pool: Pool, tenant: string): Promise<string[]> {
  const r = await pool.query("select distinct product_sku from sales where tenant = $1 order by product_sku", [tenant]);
  return r.rows.map((x) => x.product_sku as string);
}

export async function listProducts(pool: Pool, tenant: string): Promise<Record<string, unknown>[]> {
  const r = await pool.query(
    `select s.product_sku, s.first_date, s.last_date, s.rows,
            pm.status, pm.trained_at, pm.accuracy, pm.method, pm.model_version, pm.training_task_id
       from (select product_sku, min(date)::text as first_date, max(date)::text as last_date, count(*) as rows
               from sales where tenant = $1 group by product_sku) s
       left join product_models pm on pm.tenant = $1 and pm.product_sku = s.product_sku
      order by s.product_sku`,
    [tenant],
  );
  return r.rows.map((x) => {
    const model: Record<string, unknown> = {
      status: x.status ?? "none",
      trained_at: x.trained_at ? (x.trained_at as Date).toISOString() : null,
      accuracy: x.accuracy ?? null,
    };
    if (x.method) model.method = x.method;
    if (x.model_version) model.version = x.model_version;
    if (x.training_task_id) model.task_id = x.training_task_id;
    return { product_sku: x.product_sku, first_date: x.first_date, last_date: x.last_date, rows: Number(x.rows), model };
  });
}

export interface HolidayRow {
  name: string;
  date: string;
  lowerWindow: number;
  upperWindow: number;
}

function badHoliday(row: number, column: string, message: string): never {
  const field = `holidays[${row}].${column}`;
  throw new ValidationError(`${field}: ${message}`, { field, details: { row, column } });
}

/** Validates one holiday: {name, date, lower_window?: <= 0, upper_window?: >= 0}. */
export function checkHoliday(row: number, h: unknown): HolidayRow {
  if (!h || typeof h !== "object" || Array.isArray(h)) badHoliday(row, "name", "must be an object");
  const o = h as Record<string, unknown>;
  const name = typeof o.name === "string" ? o.name.trim() : "";
  if (!name || name.length > 128) badHoliday(row, "name", "must be a non-empty string of at most 128 characters");
  const m = typeof o.date === "string" ? DATE_RE.exec(o.date.trim()) : null;
  if (!m) badHoliday(row, "date", "must be a date YYYY-MM-DD");
  const day = `${m[1]}-${m[2]}-${m[3]}`;
  if (new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) badHoliday(row, "date", `'${String(o.date)}' is not a calendar date`);
  const lower = o.lower_window === undefined ? 0 : Number(o.lower_window);
  const upper = o.upper_window === undefined ? 0 : Number(o.upper_window);
  if (!Number.isInteger(lower) || lower > 0 || lower < -30) badHoliday(row, "lower_window", "must be an integer from -30 to 0");
  if (!Number.isInteger(upper) || upper < 0 || upper > 30) badHoliday(row, "upper_window", "must be an integer from 0 to 30");
  return { name, date: day, lowerWindow: lower, upperWindow: upper };
}

export async function upsertHolidays(client: PoolClient, tenant: string, rows: HolidayRow[]): Promise<void> {
  await client.query(
    `insert into holidays (tenant, name, date, lower_window, upper_window)
     select $1, x.name, x.date::date, x.lower_window, x.upper_window
       from jsonb_to_recordset($2::jsonb) as x(name text, date text, lower_window int, upper_window int)
     on conflict (tenant, name, date) do update set lower_window = excluded.lower_window, upper_window = excluded.upper_window`,
    [tenant, JSON.stringify(rows.map((r) => ({ name: r.name, date: r.date, lower_window: r.lowerWindow, upper_window: r.upperWindow })))],
  );
}

export async function listHolidays(pool: Pool, tenant: string): Promise<Record<string, unknown>[]> {
  const r = await pool.query("select name, to_char(date, 'YYYY-MM-DD') as date, lower_window, upper_window from holidays where tenant = $1 order by date, name", [tenant]);
  return r.rows;
}
