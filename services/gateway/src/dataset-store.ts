// The datasets table (packages/runtime/migrations/002): one row per uploaded
// CSV, always read with the tenant in the WHERE clause.
import { NotFoundError, type Pool } from "@millrace/runtime";
import type { ColumnSchema } from "@millrace/ml";

export interface DatasetRow {
  datasetId: string;
  tenant: string;
  name: string;
  rows: number;
  columns: ColumnSchema[];
  bytes: number;
  sha256: string;
  objectName: string;
  createdAt: Date;
}

function fromDb(r: Record<string, unknown>): DatasetRow {
  return {
    datasetId: r.dataset_id as string,
    tenant: r.tenant as string,
    name: r.name as string,
    rows: Number(r.rows),
    columns: r.columns as ColumnSchema[],
    bytes: Number(r.bytes),
    sha256: r.sha256 as string,
    objectName: r.object_name as string,
    createdAt: r.created_at as Date,
  };
}

export function datasetJson(d: DatasetRow): Record<string, unknown> {
  return {
    dataset_id: d.datasetId,
    name: d.name,
    rows: d.rows,
    columns: d.columns,
    bytes: d.bytes,
    sha256: d.sha256,
    created_at: d.createdAt.toISOString(),
  };
}

export async function insertDataset(pool: Pool, d: Omit<DatasetRow, "createdAt">): Promise<DatasetRow> {
  const r = await pool.query(
    `insert into datasets (dataset_id, tenant, name, rows, columns, bytes, sha256, object_name)
     values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`,
    [d.datasetId, d.tenant, d.name, d.rows, JSON.stringify(d.columns), d.bytes, d.sha256, d.objectName],
  );
  return fromDb(r.rows[0]);
}

export async function findDataset(pool: Pool, tenant: string, datasetId: string): Promise<DatasetRow | undefined> {
  const r = await pool.query("select * from datasets where tenant = $1 and dataset_id = $2", [tenant, datasetId]);
  return r.rows[0] ? fromDb(r.rows[0]) : undefined;
}

/** The dataset, or a 404 naming `field`: another tenant's dataset does not exist for this one. */
export async function requireDataset(pool: Pool, tenant: string, datasetId: string, field = "dataset_id"): Promise<DatasetRow> {
  const d = await findDataset(pool, tenant, datasetId);
  if (!d) throw new NotFoundError(`${field}: no dataset '${datasetId}'`, { field });
  return d;
}

export async function listDatasets(pool: Pool, tenant: string, limit: number, before?: Date): Promise<DatasetRow[]> {
  const r = await pool.query(
    `select * from datasets where tenant = $1 and ($2::timestamptz is null or created_at < $2)
     order by created_at desc, dataset_id desc limit $3`,
    [tenant, before ?? null, limit],
  );
  return r.rows.map(fromDb);
}
