import type { Registry } from "@millrace/artifacts";
import type { PredictorServiceServer, RegistryServiceServer } from "@millrace/contracts";
import { unary } from "@millrace/runtime";
import type { Serving } from "./serving";

const json = (v: unknown) => Buffer.from(JSON.stringify(v ?? null));

export function predictorService(serving: Serving, backend: string): PredictorServiceServer {
  return {
    predict: unary(async (req) => {
      const r = await serving.predict(req.tenant, req.model, req.instancesJson);
      return { model: r.model, predictionsJson: json(r.predictions), probabilitiesJson: r.probabilities ? json(r.probabilities) : new Uint8Array(), backend: r.backend, warnings: r.warnings ?? [] };
    }),
    explain: unary(async (req, call) => {
      // Stops between slices once the caller has gone (deadline passed or call cancelled).
      const gone = new AbortController();
      call.on("cancelled", () => gone.abort(new Error("explain call cancelled by the caller")));
      const r = await serving.explain(req.tenant, req.model, req.instancesJson, { signal: gone.signal });
      return { model: r.model, explanationsJson: json(r.explanations), method: r.method, warnings: r.warnings ?? [] };
    }),
    ping: unary(async () => ({ backend })),
  };
}

export function registryService(registry: Registry): RegistryServiceServer {
  return {
    listModels: unary(async (req) => ({ models: await registry.listModels(req.tenant) })),
    getModel: unary(async (req) => registry.getModel(req.tenant, req.name)),
    getModelVersion: unary(async (req) => registry.getVersion(req.tenant, req.name, req.version)),
    setAlias: unary(async (req) => registry.setAlias(req.tenant, req.name, req.alias, req.version)),
    resolveModel: unary(async (req) => {
      const m = await registry.resolve(req.tenant, req.model);
      return { name: m.name, version: m.version };
    }),
  };
}
