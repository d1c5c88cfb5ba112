// The model registry (RegistryService, served by the predictor), tenant-scoped.
import { Hono } from "hono";
import type { ModelInfo, ModelVersion } from "@millrace/contracts";
import { ValidationError, call, z } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { iso } from "../task-view";
import { NAME_RE, parseWith, readJsonObject } from "../validation";

export function versionJson(v: ModelVersion): Record<string, unknown> {
  return {
    name: v.name,
    version: v.version,
    model_type: v.modelType,
    target: v.target || null,
    aliases: v.aliases,
    dataset_id: v.datasetId || null,
    dataset_hash: v.datasetHash || null,
    params: v.params ?? {},
    metrics: v.metrics ?? {},
    pipeline: v.pipeline ?? null,
    backend: v.backend,
    artifact_bytes: v.artifactBytes,
    task_id: v.taskId || null,
    created_at: iso(v.createdAtMs),
  };
}

export function modelJson(m: ModelInfo, withVersions = true): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: m.name,
    latest_version: m.latestVersion,
    aliases: m.aliases,
    created_at: iso(m.createdAtMs),
    updated_at: iso(m.updatedAtMs),
  };
  if (withVersions) out.versions = m.versions.map(versionJson);
  return out;
}

function modelName(raw: string): string {
  if (!NAME_RE.test(raw)) throw new ValidationError("name: not a model name", { field: "name" });
  return raw;
}

const aliasBody = z.object({ version: z.number().int().min(1) }).strict();

export function modelRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const r = deps.registry;

  app.get("/models", async (c) => {
    const res = await call(r, r.listModels, { tenant: c.get("tenant") }, 10_000, "registry");
    return c.json({ models: res.models.map((m) => modelJson(m, false)) });
  });

  app.get("/models/:name", async (c) => {
    const m = await call(r, r.getModel, { tenant: c.get("tenant"), name: modelName(c.req.param("name")) }, 10_000, "registry");
    return c.json(modelJson(m));
  });

  app.get("/models/:name/versions/:version", async (c) => {
    const raw = c.req.param("version");
    const m = /^v?(\d{1,9})$/.exec(raw);
    if (!m || Number(m[1]) < 1) throw new ValidationError("version: must be a version number like 3 or v3", { field: "version" });
    const v = await call(r, r.getModelVersion, { tenant: c.get("tenant"), name: modelName(c.req.param("name")), version: Number(m[1]) }, 10_000, "registry");
    return c.json(versionJson(v));
  });

  app.put("/models/:name/aliases/:alias", async (c) => {
    const alias = c.req.param("alias");
    if (!NAME_RE.test(alias) || /^v\d+$/.test(alias)) throw new ValidationError("alias: letters, digits, '_', '.', '-' and not of the form vN", { field: "alias" });
    const b = parseWith(aliasBody, await readJsonObject(c, deps.config.MAX_BODY_BYTES));
    const m = await call(r, r.setAlias, { tenant: c.get("tenant"), name: modelName(c.req.param("name")), alias, version: b.version }, 10_000, "registry");
    return c.json(modelJson(m));
  });

  return app;
}
