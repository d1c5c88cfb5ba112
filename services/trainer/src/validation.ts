import type { DatasetStore, Registry } from "@millrace/artifacts";
import { loadModel, parseCsvToFrame } from "@millrace/ml";
import { DataError, type Pool } from "@millrace/runtime";
import type { JobContext } from "@millrace/worker";

export interface ValidationDeps {
  pool: Pool;
  datasets: DatasetStore;
  registry: Registry;
}

type Scores = Record<string, number>;

/** Accuracy for classifiers; RMSE, MAE and R² for regressors. */
export function score(task: string, actual: unknown[], predicted: unknown[]): Scores {
  const n = actual.length;
  if (task === "classification") {
    let hits = 0;
    for (let i = 0; i < n; i++) if (String(actual[i]) === String(predicted[i])) hits += 1;
    return { accuracy: n ? hits / n : 0 };
  }
  const y = actual.map(Number);
  const p = predicted.map(Number);
  const mean = y.reduce((a, b) => a + b, 0) / (n || 1);
  let se = 0;
  let ae = 0;
  let tot = 0;
  for (let i = 0; i < n; i++) {
    se += (y[i] - p[i]) ** 2;
    ae += Math.abs(y[i] - p[i]);
    tot += (y[i] - mean) ** 2;
  }
  return { rmse: Math.sqrt(se / (n || 1)), mae: ae / (n || 1), r2: tot ? 1 - se / tot : 0 };
}

/**
 * The validate-models schedule: re-scores every model version aliased
 * `production` on the newest dataset with the same name as the one it was
 * trained on, and records the metrics and their drift from training time.
 */
export async function validateModels(d: ValidationDeps, ctx: JobContext): Promise<unknown> {
  const tenant = ctx.job.tenant;
  const prod = await d.pool.query(
    `select a.name, a.version, v.dataset_id, v.metrics, v.target, ds.name as dataset_name
       from model_aliases a
       join model_versions v on v.tenant = a.tenant and v.name = a.name and v.version = a.version
       left join datasets ds on ds.dataset_id = v.dataset_id and ds.tenant = a.tenant
      where a.tenant = $1 and a.alias = 'production' order by a.name`,
    [tenant],
  );
  const out: unknown[] = [];
  let i = 0;
  for (const m of prod.rows) {
    await ctx.progress({ percent: (i++ / Math.max(1, prod.rowCount ?? 1)) * 100, message: `validating ${m.name} v${m.version}` });
    try {
      const latest = await d.pool.query("select dataset_id from datasets where tenant = $1 and name = $2 order by created_at desc limit 1", [tenant, m.dataset_name]);
      const datasetId = (latest.rows[0]?.dataset_id as string | undefined) ?? m.dataset_id;
      const info = await d.datasets.get(tenant, datasetId);
      const frame = parseCsvToFrame(await d.datasets.read(info));
      const target = frame.columns.find((c) => c.name === m.target);
      if (!target) throw new DataError(`dataset ${datasetId} has no column ${m.target}`, { field: "target" });
      const rows: Record<string, unknown>[] = [];
      const actual: unknown[] = [];
      for (let r = 0; r < frame.nRows; r++) {
        if (target.values[r] === null) continue;
        const row: Record<string, unknown> = {};
        for (const c of frame.columns) if (c.name !== m.target) row[c.name] = c.values[r];
        rows.push(row);
        actual.push(target.values[r]);
      }
      const model = loadModel(await d.registry.loadArtifact(await d.registry.resolve(tenant, `${m.name}@v${m.version}`)));
      const metrics = score(model.info.task, actual, model.predict(rows).predictions);
      const trained = (m.metrics ?? {}) as Record<string, unknown>;
      const drift: Scores = {};
      for (const [k, v] of Object.entries(metrics)) if (typeof trained[k] === "number") drift[k] = v - (trained[k] as number);
      await d.pool.query(
        "insert into model_metrics_history (tenant, name, version, dataset_id, rows, metrics, drift, task_id) values ($1,$2,$3,$4,$5,$6,$7,$8)",
        [tenant, m.name, m.version, datasetId, rows.length, JSON.stringify(metrics), JSON.stringify(drift), ctx.job.taskId],
      );
      out.push({ name: m.name, version: m.version, dataset_id: datasetId, rows: rows.length, metrics, drift });
    } catch (err) {
      // One model that cannot be scored does not stop the others.
      out.push({ name: m.name, version: m.version, error: (err as Error).message });
    }
  }
  return { action: "validate_models", validated: out.filter((o) => !(o as { error?: string }).error).length, models: out };
}
