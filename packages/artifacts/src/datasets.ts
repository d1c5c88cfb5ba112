import type { ObjectStore } from "nats";
import { NotFoundError, type Pool } from "@millrace/runtime";
import { readObject } from "./objects";

export interface DatasetInfo {
  datasetId: string;
  tenant: string;
  name: string;
  rows: number;
  columns: { name: string; type: string }[];
  bytes: number;
  sha256: string;
  objectName: string;
  createdAt: Date;
}

/** Dataset metadata lives in Postgres, the CSV bytes in the datasets object store. */
export class DatasetStore {
  constructor(
    private readonly pool: Pool,
    private readonly os: ObjectStore,
  ) {}

  async get(tenant: string, datasetId: string): Promise<DatasetInfo> {
    const r = await this.pool.query("select * from datasets where dataset_id = $1 and tenant = $2", [datasetId, tenant]);
    if (!r.rowCount) throw new NotFoundError(`dataset ${datasetId} not found`, { field: "dataset_id" });
    const x = r.rows[0];
    return { datasetId: x.dataset_id, tenant: x.tenant, name: x.name, rows: x.rows, columns: x.columns, bytes: x.bytes, sha256: x.sha256, objectName: x.object_name, createdAt: x.created_at };
  }

  async read(info: DatasetInfo): Promise<Uint8Array> {
    return readObject(this.os, info.objectName);
  }
}
