import type { NatsConnection } from "nats";
import type { Registry, ResolvedModel } from "@millrace/artifacts";
import { loadModel, RowValidationError, type ExplainOptions, type LoadedModel } from "@millrace/ml";
import { BoundedMap, PayloadTooLargeError, ValidationError, type Clock, type Logger } from "@millrace/runtime";
import { ModelCache } from "./model-cache";

export interface ServingOptions {
  cacheBytes: number;
  maxInstances: number;
  /** How long a resolved reference (e.g. "churn" → v7) is reused without a change notice. */
  resolveTtlMs: number;
}

/**
 * Resolves model references and keeps loaded models in a bounded cache. A
 * new version or alias is picked up without a restart: the registry publishes
 * a change notice that drops cached resolutions, and resolutions also expire.
 */
export class Serving {
  readonly cache: ModelCache;
  // Bounded: each model, version and alias asked for is a key, and tenants choose those.
  private readonly resolved = new BoundedMap<string, { model: ResolvedModel; at: number }>({ max: 10_000 });
  private readonly loading = new Map<string, Promise<LoadedModel>>();

  constructor(
    private readonly registry: Registry,
    private readonly opts: ServingOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.cache = new ModelCache(opts.cacheBytes);
    // Changes made through this process's own registry (SetAlias over gRPC)
    // apply before the call answers, not when the NATS notice comes back.
    registry.onChange((tenant, name) => this.forget(`${tenant}/${name}`));
  }

  /** Drops cached resolutions of one model ("tenant/name"). */
  private forget(model: string): void {
    for (const k of this.resolved.keys()) if (k.startsWith(`${model}|`)) this.resolved.delete(k);
  }

  listenForChanges(nc: NatsConnection, subject: string): void {
    nc.subscribe(subject, {
      callback: (_e, m) => this.forget(new TextDecoder().decode(m.data)),
    });
  }

  async resolve(tenant: string, ref: string): Promise<ResolvedModel> {
    const key = `${tenant}/${ref.split("@")[0]}|${ref}`;
    const hit = this.resolved.get(key);
    if (hit && this.clock.now() - hit.at < this.opts.resolveTtlMs) return hit.model;
    const model = await this.registry.resolve(tenant, ref);
    this.resolved.set(key, { model, at: this.clock.now() });
    return model;
  }

  async load(tenant: string, ref: string): Promise<{ ref: ResolvedModel; model: LoadedModel }> {
    const r = await this.resolve(tenant, ref);
    const key = `${r.tenant}/${r.name}/v${r.version}`;
    const cached = this.cache.get(key);
    if (cached) return { ref: r, model: cached };
    // One load per model even when many requests miss at once.
    let p = this.loading.get(key);
    if (!p) {
      p = this.registry.loadArtifact(r).then((bytes) => {
        const m = loadModel(bytes);
        this.cache.set(key, m);
        this.logger.info({ model: key, bytes: m.bytes, cached_models: this.cache.size }, "model loaded");
        return m;
      });
      this.loading.set(key, p);
      p.finally(() => this.loading.delete(key)).catch(() => undefined);
    }
    return { ref: r, model: await p };
  }

  parseInstances(json: Uint8Array | string): Record<string, unknown>[] {
    let rows: unknown;
    try {
      rows = JSON.parse(typeof json === "string" ? json : Buffer.from(json).toString("utf8"));
    } catch {
      throw new ValidationError("instances is not valid JSON", { field: "instances" });
    }
    if (!Array.isArray(rows) || rows.length === 0) throw new ValidationError("instances must be a non-empty array of objects", { field: "instances" });
    if (rows.length > this.opts.maxInstances) throw new PayloadTooLargeError(`instances has ${rows.length} rows; the limit is ${this.opts.maxInstances}`, { field: "instances" });
    rows.forEach((r, i) => {
      if (!r || typeof r !== "object" || Array.isArray(r)) throw new ValidationError(`instances[${i}] must be an object`, { field: `instances[${i}]` });
    });
    return rows as Record<string, unknown>[];
  }

  async predict(tenant: string, ref: string, instancesJson: Uint8Array | string) {
    const rows = this.parseInstances(instancesJson);
    const { ref: r, model } = await this.load(tenant, ref);
    let out;
    try {
      out = model.predict(rows);
    } catch (err) {
      throw inRequestTerms(err);
    }
    // Only when there are any: a task's result stays as it was for rows as trained.
    const warnings = model.inputWarnings(rows);
    return {
      model: { name: r.name, version: r.version },
      predictions: out.predictions,
      probabilities: out.probabilities,
      backend: model.info.backend,
      ...(warnings.length ? { warnings } : {}),
    };
  }

  /** Explains in slices (see LoadedModel.explainInSlices): the process stays responsive, and `signal` stops it between slices. */
  async explain(tenant: string, ref: string, instancesJson: Uint8Array | string, opts: ExplainOptions = {}) {
    const rows = this.parseInstances(instancesJson);
    const { ref: r, model } = await this.load(tenant, ref);
    const explanations = await model.explainInSlices(rows, opts).catch((err: unknown) => {
      throw inRequestTerms(err);
    });
    const warnings = model.inputWarnings(rows);
    return { model: { name: r.name, version: r.version }, explanations, method: explainMethod(model.info.model_type), ...(warnings.length ? { warnings } : {}) };
  }
}

/**
 * A bad row names the request's own field: `instances[3].age` rather than the
 * engine's `rows[3].age` (the row and column stay in the details).
 */
function inRequestTerms(err: unknown): unknown {
  if (err instanceof RowValidationError) {
    return new ValidationError(`instances[${err.row}].${err.column}: ${err.message}`, { field: `instances[${err.row}].${err.column}`, details: { ...err.details, row: err.row, column: err.column } });
  }
  return err;
}

function explainMethod(modelType: string): string {
  if (modelType === "decision_tree" || modelType === "random_forest") return "tree_shap";
  if (modelType === "linear_regression" || modelType === "logistic_regression") return "linear_shap";
  return "sampled_shap";
}
