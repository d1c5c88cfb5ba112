import type { DatasetStore, Registry } from "@millrace/artifacts";
import { forEachTimeSlice, loadModel, parseCsvToFrameInSlices, type DataFrame, type LoadedModel } from "@millrace/ml";
import { DataError, type Pool } from "@millrace/runtime";
import type { JobContext } from "@millrace/worker";

export interface ValidationDeps {
  pool: Pool;
  datasets: DatasetStore;
  registry: Registry;
}

type Scores = Record<string, number>;

/**
 * Scoring runs in slices of about this many ms, with the event loop free in
 * between. A production dataset can be millions of rows, and a 5,000-tree
 * forest predicts 20,000 rows in ~15 s: in one go it would hold the trainer's
 * event loop past its jobs' leases (renewed from that loop), and JetStream
 * would hand the job, and any training running beside it, to another worker.
 */
const SCORE_SLICE_MS = 50;

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
 * The target column's known values and the model's predictions for those rows,
 * predicted a slice at a time (about `sliceMs` each) with the event loop free
 * in between; `signal` is checked between slices.
 */
export async function scoreInSlices(
  model: LoadedModel,
  frame: DataFrame,
  targetName: string,
  signal: AbortSignal,
  sliceMs = SCORE_SLICE_MS,
): Promise<{ actual: unknown[]; predicted: unknown[] }> {
  const target = frame.columns.find((c) => c.name === targetName);
  if (!target) throw new DataError(`the dataset has no column ${targetName}`, { field: "target" });
  const actual: unknown[] = [];
  const predicted: unknown[] = [];
  await forEachTimeSlice(
    frame.nRows,
    (start, end) => {
      const rows: Record<string, unknown>[] = [];
      for (let r = start; r < end; r++) {
        if (target.values[r] === null) continue;
        const row: Record<string, unknown> = {};
        for (const c of frame.columns) if (c.name !== targetName) row[c.name] = c.values[r];
        rows.push(row);
        actual.push(target.values[r]);
      }
      if (rows.length) for (const p of model.predict(rows).predictions) predicted.push(p);
    },
    { sliceMs, firstRows: 100, signal },
  );
  return { actual, predicted };
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
      const frame = await parseCsvToFrameInSlices(await d.datasets.read(info), undefined, { signal: ctx.signal });
      const target = frame.columns.find((c) => c.name === m.target);
      if (!target) throw new DataError(`dataset ${datasetId} has no column ${m.target}`, { field: "target" });
      const model = loadModel(await d.registry.loadArtifact(await d.registry.resolve(tenant, `${m.name}@v${m.version}`)));
      const { actual, predicted } = await scoreInSlices(model, frame, m.target, ctx.signal);
      const metrics = score(model.info.task, actual, predicted);
      const trained = (m.metrics ?? {}) as Record<string, unknown>;
      const drift: Scores = {};
      for (const [k, v] of Object.entries(metrics)) if (typeof trained[k] === "number") drift[k] = v - (trained[k] as number);
      await d.pool.query(
        "insert into model_metrics_history (tenant, name, version, dataset_id, rows, metrics, drift, task_id) values ($1,$2,$3,$4,$5,$6,$7,$8)",
        [tenant, m.name, m.version, datasetId, actual.length, JSON.stringify(metrics), JSON.stringify(drift), ctx.job.taskId],
      );
      out.push({ name: m.name, version: m.version, dataset_id: datasetId, rows: actual.length, metrics, drift });
    } catch (err) {
      // One model that cannot be scored does not stop the others; a cancel or time limit stops them all.
      if (ctx.signal.aborted) throw err;
      out.push({ name: m.name, version: m.version, error: (err as Error).message });
    }
  }
  return { action: "validate_models", validated: out.filter((o) => !(o as { error?: string }).error).length, models: out };
}
