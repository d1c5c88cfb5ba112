// Reads of tasks from the status service made in the same event-loop turn
// travel as one batched RPC (GetTasks): under load, dozens of polls share one
// gRPC call instead of paying its cost each. (Submits do not call the status
// service: the gateway records their rows itself, see submit.ts.)
import type { ItemError, StatusServiceClient, Task } from "@millrace/contracts";
import { call, DependencyUnavailableError, errorFromCode, MillraceError } from "@millrace/runtime";

interface Pending<Req, Res> {
  req: Req;
  resolve: (r: Res) => void;
  reject: (e: unknown) => void;
}

function itemFailure(e: ItemError): Error {
  if (e.code === "DEPENDENCY_UNAVAILABLE") return new DependencyUnavailableError(`status unavailable: ${e.message}`, { field: e.field || undefined });
  return errorFromCode(e.code, e.message, { field: e.field || undefined }) ?? new MillraceError(e.message, e.code || "INTERNAL", 500, false, { field: e.field || undefined });
}

class Batch<Req, Res> {
  private queue: Pending<Req, Res>[] = [];
  private scheduled = false;

  constructor(
    private readonly send: (reqs: Req[]) => Promise<{ value?: Res; error?: ItemError }[]>,
    private readonly max: number,
  ) {}

  add(req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      if (this.queue.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.queue.splice(0, this.max);
    if (!items.length) return;
    if (this.queue.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    this.send(items.map((i) => i.req)).then(
      (results) =>
        items.forEach((it, n) => {
          const r = results[n];
          if (!r) it.reject(new MillraceError("status answered a short batch", "INTERNAL", 500, false));
          else if (r.error && r.error.code) it.reject(itemFailure(r.error));
          else it.resolve(r.value as Res);
        }),
      (err) => items.forEach((it) => it.reject(err)),
    );
  }
}

export class StatusBatcher {
  private readonly gets: Batch<{ tenant: string; taskId: string }, Task>;

  constructor(status: StatusServiceClient, max = 128) {
    this.gets = new Batch(async (requests) => {
      const r = await call(status, status.getTasks, { requests }, 10_000, "status");
      return r.results.map((x) => ({ value: x.task, error: x.error }));
    }, max);
  }

  getTask(tenant: string, taskId: string): Promise<Task> {
    return this.gets.add({ tenant, taskId });
  }
}

const batchers = new WeakMap<StatusServiceClient, StatusBatcher>();

/** The batcher of a status client (one per client, made on first use). */
export function batcherFor(status: StatusServiceClient): StatusBatcher {
  let b = batchers.get(status);
  if (!b) batchers.set(status, (b = new StatusBatcher(status)));
  return b;
}
