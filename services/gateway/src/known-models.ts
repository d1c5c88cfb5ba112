// Before an async predict or explain job is queued, the model it names is
// looked up in the registry: a name, version or alias that names nothing is a
// 404 at submit, and nothing is recorded or published (before, the task was
// accepted and failed in the worker). The job still resolves its model when it
// runs, so an alias moved in between is followed.
//
// Two choices keep the queue what it is for:
//  - a reference found is remembered per tenant for `ttlMs`, so a stream of
//    submits for one model costs one registry call per ttl, not one each;
//    references not found are not remembered (a model trained a moment later
//    is usable at once);
//  - when the registry cannot answer (the predictor, which serves it, is down
//    or slow past `timeoutMs`), the job is queued unchecked, as a queue should
//    take work while its workers are away; the worker reports a missing model
//    as the task's FAILURE then.
import type { RegistryServiceClient } from "@millrace/contracts";
import { BoundedMap, call, NotFoundError, type Clock, type Logger } from "@millrace/runtime";

export interface KnownModelsOptions {
  ttlMs?: number;
  timeoutMs?: number;
  maxEntries?: number;
}

export class KnownModels {
  // tenant \0 reference → clock time until which it counts as found.
  private readonly found: BoundedMap<string, number>;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly registry: RegistryServiceClient,
    private readonly clock: Clock,
    private readonly logger: Logger,
    opts: KnownModelsOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.found = new BoundedMap({ max: opts.maxEntries ?? 10_000 });
  }

  /** Throws NotFoundError (field `model`) when the registry says `ref` names no model of the tenant. */
  async check(tenant: string, ref: string): Promise<void> {
    const key = `${tenant}\0${ref}`;
    const until = this.found.get(key);
    if (until !== undefined && until > this.clock.now()) return;
    try {
      await call(this.registry, this.registry.resolveModel, { tenant, model: ref }, this.timeoutMs, "registry");
    } catch (err) {
      if (err instanceof NotFoundError) {
        this.found.delete(key);
        throw new NotFoundError(err.message, { field: "model" });
      }
      this.logger.warn({ model: ref, err: (err as Error).message }, "registry did not answer; job queued without a model check");
      return;
    }
    this.found.set(key, this.clock.now() + this.ttlMs);
  }
}
