import type { NatsConnection, ObjectStore } from "nats";
import type { ModelInfo, ModelVersion } from "@millrace/contracts";
import { inTransaction, NotFoundError, ValidationError, type Pool } from "@millrace/runtime";
import { readObject, writeObject } from "./objects";

export interface NewVersion {
  tenant: string;
  name: string;
  modelType: string;
  target: string;
  datasetId?: string;
  datasetHash?: string;
  pipeline?: unknown;
  params?: unknown;
  metrics?: unknown;
  backend: string;
  taskId?: string;
  artifact: Uint8Array;
}

export interface ResolvedModel {
  tenant: string;
  name: string;
  version: number;
  objectName: string;
  bytes: number;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Parses `name`, `name@alias` or `name@v3`. */
export function parseModelRef(ref: string): { name: string; version?: number; alias?: string } {
  const at = ref.indexOf("@");
  const name = at < 0 ? ref : ref.slice(0, at);
  if (!NAME_RE.test(name)) throw new ValidationError(`model "${ref}" is not a valid model reference (name, name@alias or name@v3)`, { field: "model" });
  if (at < 0) return { name };
  const suffix = ref.slice(at + 1);
  const v = /^v(\d+)$/.exec(suffix);
  if (v) return { name, version: Number(v[1]) };
  if (!NAME_RE.test(suffix)) throw new ValidationError(`model alias in "${ref}" is not valid`, { field: "model" });
  return { name, alias: suffix };
}

function objectName(tenant: string, name: string, version: number): string {
  return `${tenant}/${name}/v${version}`;
}

function toVersion(x: Record<string, any>, aliases: string[]): ModelVersion {
  return {
    name: x.name,
    version: x.version,
    createdAtMs: (x.created_at as Date).getTime(),
    datasetId: x.dataset_id ?? "",
    datasetHash: x.dataset_hash ?? "",
    pipeline: x.pipeline && typeof x.pipeline === "object" && !Array.isArray(x.pipeline) ? x.pipeline : x.pipeline ? { nodes: x.pipeline } : undefined,
    params: x.params ?? undefined,
    metrics: x.metrics ?? undefined,
    backend: x.backend,
    artifactBytes: x.artifact_bytes,
    modelType: x.model_type,
    taskId: x.task_id ?? "",
    aliases,
    target: x.target ?? "",
  };
}

/**
 * The model registry: versions and aliases in Postgres, artifacts in the
 * models object store shared by every predictor replica. A core-NATS notice
 * on each change lets predictors drop cached resolutions at once.
 */
export class Registry {
  private readonly listeners: Array<(tenant: string, name: string) => void> = [];

  constructor(
    private readonly pool: Pool,
    private readonly os: ObjectStore,
    private readonly nc?: NatsConnection,
    private readonly changedSubject = "",
  ) {}

  /**
   * Called at once, in this process, after each change. The NATS notice
   * reaches other processes later (and this one only after a round trip), so
   * a process that serves what it just changed must not wait for it: the
   * caller of SetAlias may ask for name@alias the moment it has its answer.
   */
  onChange(fn: (tenant: string, name: string) => void): void {
    this.listeners.push(fn);
  }

  private changed(tenant: string, name: string): void {
    for (const fn of this.listeners) fn(tenant, name);
    if (this.changedSubject) this.nc?.publish(this.changedSubject, new TextEncoder().encode(`${tenant}/${name}`));
  }

  async createVersion(v: NewVersion): Promise<ModelVersion> {
    if (!NAME_RE.test(v.name)) throw new ValidationError(`model name "${v.name}" is not valid`, { field: "name" });
    const ins = await inTransaction(this.pool, async (client) => {
      const r = await client.query(
        `insert into models (tenant, name, latest_version) values ($1, $2, 1)
         on conflict (tenant, name) do update set latest_version = models.latest_version + 1, updated_at = now()
         returning latest_version`,
        [v.tenant, v.name],
      );
      const version = r.rows[0].latest_version as number;
      const obj = objectName(v.tenant, v.name, version);
      // Artifact first: a version row never points at a missing object.
      await writeObject(this.os, obj, v.artifact);
      return client.query(
        `insert into model_versions (tenant, name, version, model_type, target, dataset_id, dataset_hash, pipeline, params, metrics, backend, artifact_object, artifact_bytes, task_id)
         values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) returning *`,
        [v.tenant, v.name, version, v.modelType, v.target, v.datasetId ?? null, v.datasetHash ?? null, JSON.stringify(v.pipeline ?? null), JSON.stringify(v.params ?? null), JSON.stringify(v.metrics ?? null), v.backend, obj, v.artifact.length, v.taskId ?? null],
      );
    });
    this.changed(v.tenant, v.name);
    return toVersion(ins.rows[0], []);
  }

  async resolve(tenant: string, ref: string): Promise<ResolvedModel> {
    const p = parseModelRef(ref);
    let version = p.version;
    if (p.alias) {
      const a = await this.pool.query("select version from model_aliases where tenant = $1 and name = $2 and alias = $3", [tenant, p.name, p.alias]);
      if (!a.rowCount) throw new NotFoundError(`model ${p.name} has no alias "${p.alias}"`, { field: "model" });
      version = a.rows[0].version;
    }
    const r = version
      ? await this.pool.query("select version, artifact_object, artifact_bytes from model_versions where tenant = $1 and name = $2 and version = $3", [tenant, p.name, version])
      : await this.pool.query("select version, artifact_object, artifact_bytes from model_versions where tenant = $1 and name = $2 order by version desc limit 1", [tenant, p.name]);
    if (!r.rowCount) throw new NotFoundError(`model ${ref} not found`, { field: "model" });
    return { tenant, name: p.name, version: r.rows[0].version, objectName: r.rows[0].artifact_object, bytes: r.rows[0].artifact_bytes };
  }

  async loadArtifact(m: ResolvedModel): Promise<Uint8Array> {
    return readObject(this.os, m.objectName);
  }

  private async aliasesOf(tenant: string, name: string): Promise<Record<string, number>> {
    const r = await this.pool.query("select alias, version from model_aliases where tenant = $1 and name = $2 order by alias", [tenant, name]);
    return Object.fromEntries(r.rows.map((x) => [x.alias, x.version]));
  }

  async getVersion(tenant: string, name: string, version: number): Promise<ModelVersion> {
    const r = await this.pool.query("select * from model_versions where tenant = $1 and name = $2 and version = $3", [tenant, name, version]);
    if (!r.rowCount) throw new NotFoundError(`model ${name} has no version ${version}`, { field: "version" });
    const aliases = Object.entries(await this.aliasesOf(tenant, name))
      .filter(([, v]) => v === version)
      .map(([a]) => a);
    return toVersion(r.rows[0], aliases);
  }

  async getModel(tenant: string, name: string): Promise<ModelInfo> {
    const m = await this.pool.query("select * from models where tenant = $1 and name = $2", [tenant, name]);
    if (!m.rowCount) throw new NotFoundError(`model ${name} not found`, { field: "name" });
    const aliases = await this.aliasesOf(tenant, name);
    const vs = await this.pool.query("select * from model_versions where tenant = $1 and name = $2 order by version desc", [tenant, name]);
    const x = m.rows[0];
    return {
      name,
      latestVersion: x.latest_version,
      aliases,
      createdAtMs: x.created_at.getTime(),
      updatedAtMs: x.updated_at.getTime(),
      versions: vs.rows.map((v) =>
        toVersion(
          v,
          Object.entries(aliases)
            .filter(([, n]) => n === v.version)
            .map(([a]) => a),
        ),
      ),
    };
  }

  async listModels(tenant: string): Promise<ModelInfo[]> {
    const m = await this.pool.query("select * from models where tenant = $1 order by name", [tenant]);
    const out: ModelInfo[] = [];
    for (const x of m.rows) {
      out.push({ name: x.name, latestVersion: x.latest_version, aliases: await this.aliasesOf(tenant, x.name), createdAtMs: x.created_at.getTime(), updatedAtMs: x.updated_at.getTime(), versions: [] });
    }
    return out;
  }

  async setAlias(tenant: string, name: string, alias: string, version: number): Promise<ModelInfo> {
    if (!NAME_RE.test(alias) || /^v\d+$/.test(alias)) throw new ValidationError(`alias "${alias}" is not valid`, { field: "alias" });
    await this.getVersion(tenant, name, version);
    await this.pool.query(
      `insert into model_aliases (tenant, name, alias, version) values ($1, $2, $3, $4)
       on conflict (tenant, name, alias) do update set version = excluded.version, updated_at = now()`,
      [tenant, name, alias, version],
    );
    this.changed(tenant, name);
    return this.getModel(tenant, name);
  }
}
