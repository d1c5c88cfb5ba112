import { FittedForecaster, fitForecasterAsync, type SalesPoint } from "@millrace/forecast";
import { NotFoundError, ValidationError, type Clock, type Pool } from "@millrace/runtime";
import type { JobContext } from "@millrace/worker";

export interface ForecastingDeps {
  pool: Pool;
  clock: Clock;
}

interface ProductModel {
  version: number;
  model: FittedForecaster;
  trainedAt: Date;
}

async function history(pool: Pool, tenant: string, sku: string): Promise<SalesPoint[]> {
  const r = await pool.query("select to_char(date, 'YYYY-MM-DD') as date, quantity from sales where tenant = $1 and product_sku = $2 order by date", [tenant, sku]);
  return r.rows.map((x) => ({ date: x.date as string, quantity: Number(x.quantity) }));
}

async function currentModel(pool: Pool, tenant: string, sku: string): Promise<ProductModel | undefined> {
  const r = await pool.query("select model_version, model, trained_at from product_models where tenant = $1 and product_sku = $2 and model is not null", [tenant, sku]);
  if (!r.rowCount) return undefined;
  return { version: r.rows[0].model_version, model: FittedForecaster.fromJSON(r.rows[0].model), trainedAt: r.rows[0].trained_at };
}

/** Fits and stores a new model version for one SKU. */
async function trainProduct(d: ForecastingDeps, ctx: JobContext, sku: string) {
  const t0 = performance.now();
  const rows = await history(d.pool, ctx.job.tenant, sku);
  if (!rows.length) throw new NotFoundError(`product ${sku} has no sales history`, { field: "product_sku" });
  // The tenant's holidays and events are fitted as regressors.
  const hol = await d.pool.query("select name, to_char(date, 'YYYY-MM-DD') as date, lower_window, upper_window from holidays where tenant = $1", [ctx.job.tenant]);
  const holidays = hol.rows.map((h) => ({ name: h.name as string, date: h.date as string, lowerWindow: h.lower_window as number, upperWindow: h.upper_window as number }));
  await d.pool.query(
    `insert into product_models (tenant, product_sku, status, training_task_id) values ($1, $2, 'training', $3)
     on conflict (tenant, product_sku) do update set status = 'training', training_task_id = $3, updated_at = now()`,
    [ctx.job.tenant, sku, ctx.job.taskId],
  );
  let model: FittedForecaster;
  try {
    model = await fitForecasterAsync(rows, { signal: ctx.signal, holidays: holidays.length ? holidays : undefined });
  } catch (err) {
    // Not left "training" forever: the SKU keeps serving its previous model, if any.
    await d.pool
      .query(
        `update product_models set status = case when model is null then 'failed' else 'trained' end, updated_at = now()
         where tenant = $1 and product_sku = $2 and training_task_id = $3`,
        [ctx.job.tenant, sku, ctx.job.taskId],
      )
      .catch(() => undefined);
    throw err;
  }
  const fitMs = Math.round(performance.now() - t0);
  const r = await d.pool.query(
    `update product_models set status = 'trained', model_version = model_version + 1, model = $3, method = $4, accuracy = $5,
       trained_at = $6, history_rows = $7, updated_at = now()
     where tenant = $1 and product_sku = $2 returning model_version`,
    [ctx.job.tenant, sku, JSON.stringify(model.toJSON()), model.method, JSON.stringify(model.accuracy), new Date(d.clock.now()), rows.length],
  );
  return { model, version: r.rows[0].model_version as number, fitMs, rows: rows.length };
}

export async function handleTrainProduct(d: ForecastingDeps, ctx: JobContext): Promise<unknown> {
  const p = ctx.job.payload;
  if (p?.$case !== "trainProduct") throw new ValidationError("train_product job without payload", { field: "payload" });
  await ctx.progress({ percent: 5, message: `training ${p.value.productSku}` });
  const t = await trainProduct(d, ctx, p.value.productSku);
  return { product_sku: p.value.productSku, model_version: t.version, method: t.model.method, notes: t.model.notes, accuracy: t.model.accuracy, history_rows: t.rows, fit_ms: t.fitMs };
}

/** POST /v1/forecast[/async]: forecasts a SKU, training a model first when it has none. */
export async function handleForecast(d: ForecastingDeps, ctx: JobContext): Promise<unknown> {
  const p = ctx.job.payload;
  if (p?.$case !== "forecast") throw new ValidationError("forecast job without payload", { field: "payload" });
  const { productSku: sku, days } = p.value;
  let current = await currentModel(d.pool, ctx.job.tenant, sku);
  let trainedNow = false;
  if (!current) {
    if (!p.value.trainIfMissing) throw new NotFoundError(`product ${sku} has no model`, { field: "product_sku" });
    await ctx.progress({ percent: 10, message: `no model for ${sku}: training one first` });
    const t = await trainProduct(d, ctx, sku);
    current = { version: t.version, model: t.model, trainedAt: new Date(d.clock.now()) };
    trainedNow = true;
    await ctx.progress({ percent: 80, message: `trained ${sku} v${t.version}; forecasting ${days} days` });
  }
  const points = current.model.forecast(days || 30);
  const a = current.model.accuracy;
  return {
    product_sku: sku,
    model_version: current.version,
    generated_at: new Date(d.clock.now()).toISOString(),
    trained_now: trainedNow,
    method: current.model.method,
    notes: current.model.notes,
    chart_data: points.map((x) => ({ date: x.date, yhat: x.yhat, yhat_lower: x.yhat_lower, yhat_upper: x.yhat_upper, yhat_lower_95: x.yhat_lower_95, yhat_upper_95: x.yhat_upper_95 })),
    accuracy: { mae: a.mae, mape: a.mape, smape: a.smape },
  };
}
