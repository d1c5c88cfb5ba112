import type { JsMsg, NatsConnection } from "nats";
import { Job, TaskState, type TaskError, type TaskEvent } from "@millrace/contracts";
import { errorMessage, expiredEvent, inTransaction, isTerminal, lateForStart, publishEvent, publishJob, QUEUES, ValidationError, type Clock, type Logger, type Pool, type PoolClient, type Topology } from "@millrace/runtime";
import { insertPending } from "@millrace/submissions";
import type { Canceller } from "./cancel";
import type { TaskRow } from "./projection";
import type { TaskStore } from "./store";

/** Job kinds whose task is a parent coordinated here rather than run by a worker. */
export const ORCHESTRATED_KINDS = ["workflow", "train_all_products"] as const;

/** A parent task, coordinated by the orchestrator (its children are rows of their own). */
export function isParentKind(kind: string): boolean {
  return (ORCHESTRATED_KINDS as readonly string[]).includes(kind);
}

interface WorkflowRow {
  parent_id: string;
  tenant: string;
  type: "chain" | "group" | "chord" | "fanout";
  settle_all: boolean;
  steps: Buffer[];
  callback: Buffer | null;
  labels: string[];
  children: Record<string, number>; // child task id → step index (-1: callback)
  results: Record<string, { state: string; result?: unknown; error?: TaskError }>;
  next_step: number;
  callback_id: string | null;
  seq: number;
  done: boolean;
}

/**
 * Runs chains, groups, chords and fan-outs. The parent is a task like any
 * other; its children carry parent_id. When the projection commits a child's
 * terminal state the orchestrator advances the parent under a row lock: the
 * next chain step, the chord callback, or the parent's own outcome. A failing
 * child fails a chain or chord at once (and cancels its siblings), so no
 * parent is left hanging; a periodic sweep re-checks running parents in case
 * a process died between the two.
 */
export class Orchestrator {
  private stopped = false;
  private sweepTimer?: NodeJS.Timeout;
  private loops: Array<{ stop(): void }> = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly pool: Pool,
    private readonly store: TaskStore,
    private readonly canceller: Canceller,
    private readonly topo: Topology,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly opts: { sweepEveryMs: number },
  ) {}

  async start(): Promise<void> {
    const js = this.nc.jetstream();
    for (const kind of ORCHESTRATED_KINDS) {
      for (const queue of QUEUES) {
        const consumer = await js.consumers.get(this.topo.jobsStream, this.topo.jobConsumer(kind, queue));
        const messages = await consumer.consume({ max_messages: 50 });
        this.loops.push(messages);
        void (async () => {
          for await (const m of messages) {
            if (this.stopped) break;
            await this.onJob(m).catch((err) => {
              this.logger.warn({ err: errorMessage(err) }, "workflow start failed; will be redelivered");
              m.nak(1_000);
            });
          }
        })();
      }
    }
    const sweep = async () => {
      await this.sweep().catch((err) => this.logger.warn({ err: errorMessage(err) }, "workflow sweep failed"));
      if (!this.stopped) {
        this.sweepTimer = setTimeout(sweep, this.opts.sweepEveryMs);
        this.sweepTimer.unref();
      }
    };
    this.sweepTimer = setTimeout(sweep, this.opts.sweepEveryMs);
    this.sweepTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    for (const l of this.loops) l.stop();
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
  }

  private async planOf(job: Job): Promise<{ type: WorkflowRow["type"]; settleAll: boolean; steps: Job[]; callback?: Job; labels: string[] }> {
    const p = job.payload;
    if (p?.$case === "workflow") {
      const type = p.value.type as WorkflowRow["type"];
      return { type, settleAll: p.value.settleAll, steps: p.value.steps, callback: p.value.callback, labels: p.value.steps.map((s, i) => `${i}:${s.kind}`) };
    }
    if (p?.$case === "trainAllProducts") {
      let skus = p.value.productSkus;
      if (!skus.length) {
        // A scheduled fire names no SKUs: train every SKU the tenant has sales for.
        const r = await this.pool.query("select distinct product_sku from sales where tenant = $1 order by product_sku", [job.tenant]);
        skus = r.rows.map((x) => x.product_sku as string);
      }
      const steps = skus.map((sku: string) => ({ ...blankJob(), kind: "train_product", queue: job.queue, tenant: job.tenant, payload: { $case: "trainProduct" as const, value: { productSku: sku } } }));
      return { type: "fanout", settleAll: true, steps, labels: skus };
    }
    throw new ValidationError(`job kind ${job.kind} is not orchestrated`, { field: "kind" });
  }

  private async onJob(msg: JsMsg): Promise<void> {
    const job = Job.decode(msg.data);
    if (await this.expired(job)) {
      msg.ack();
      return;
    }
    const plan = await this.planOf(job);
    await inTransaction(this.pool, async (client) => {
      const ins = await client.query(
        `insert into workflows (parent_id, tenant, type, settle_all, steps, callback, labels) values ($1,$2,$3,$4,$5,$6,$7)
         on conflict (parent_id) do nothing returning parent_id`,
        [job.taskId, job.tenant, plan.type, plan.settleAll, plan.steps.map((s) => Buffer.from(Job.encode(s).finish())), plan.callback ? Buffer.from(Job.encode(plan.callback).finish()) : null, JSON.stringify(plan.labels)],
      );
      if (ins.rowCount) {
        const wf = await this.lock(client, job.taskId);
        await this.parentEvent(client, wf, job, TaskState.STARTED, {});
        if (!plan.steps.length) {
          await this.finish(client, wf, job, TaskState.SUCCESS, { result: this.summary(wf) });
        } else if (plan.type === "chain") {
          await this.launch(client, wf, job, 0, job.inputJson);
        } else {
          await this.launch(client, wf, job, plan.steps.map((_, i) => i), job.inputJson);
        }
        await this.progress(client, wf, job);
      }
    });
    msg.ack();
  }

  private async lock(client: PoolClient, parentId: string): Promise<WorkflowRow> {
    const r = await client.query("select * from workflows where parent_id = $1 for update", [parentId]);
    return r.rows[0] as WorkflowRow;
  }

  private async save(client: PoolClient, wf: WorkflowRow): Promise<void> {
    await client.query("update workflows set children = $2, results = $3, next_step = $4, callback_id = $5, seq = $6, done = $7, updated_at = now() where parent_id = $1", [
      wf.parent_id,
      JSON.stringify(wf.children),
      JSON.stringify(wf.results),
      wf.next_step,
      wf.callback_id,
      wf.seq,
      wf.done,
    ]);
  }

  /**
   * Creates and publishes children (one insert, one save, then the publishes).
   * Ids are deterministic, so a repeat after a crash is harmless.
   */
  private async launch(client: PoolClient, wf: WorkflowRow, parent: { taskId: string; tenant: string; queue: string }, indexes: number | number[], input: Uint8Array): Promise<void> {
    const children: Job[] = [];
    for (const index of Array.isArray(indexes) ? indexes : [indexes]) {
      const raw = index === -1 ? wf.callback : wf.steps[index];
      if (!raw) continue;
      const step = Job.decode(raw);
      const child: Job = {
        ...step,
        taskId: `${parent.taskId}-${index === -1 ? "cb" : `s${index}`}`,
        tenant: parent.tenant,
        parentId: parent.taskId,
        queue: step.queue || parent.queue,
        createdAtMs: this.clock.now(),
        inputJson: input,
        generation: 0,
        attemptBase: 0,
      };
      children.push(child);
      wf.children[child.taskId] = index;
      if (index === -1) wf.callback_id = child.taskId;
      else wf.next_step = Math.max(wf.next_step, index + 1);
    }
    if (!children.length) return;
    await insertPending(this.pool, children.map((job) => ({ job })), this.clock.now());
    await this.save(client, wf);
    const js = this.nc.jetstream();
    await Promise.all(children.map((c) => publishJob(js, this.topo, c)));
  }

  private event(wf: WorkflowRow, parent: TaskRow | Job, state: TaskState, extra: Partial<TaskEvent>): TaskEvent {
    wf.seq += 1;
    const isRow = "createdAt" in parent;
    return {
      eventId: "",
      taskId: wf.parent_id,
      tenant: wf.tenant,
      kind: parent.kind,
      queue: parent.queue,
      parentId: (isRow ? parent.parentId : parent.parentId) ?? "",
      createdAtMs: isRow ? parent.createdAt : parent.createdAtMs,
      state,
      attempt: 1,
      seq: wf.seq,
      atMs: this.clock.now(),
      progress: undefined,
      resultJson: new Uint8Array(),
      error: undefined,
      nextAttemptAtMs: 0,
      workerId: "orchestrator",
      name: parent.name,
      generation: isRow ? parent.generation : parent.generation,
      ...extra,
    };
  }

  /**
   * A workflow that reaches the orchestrator after its start_by, and has not
   * started (no workflows row), ends REVOKED with code EXPIRED, as a worker
   * ends a late job; its steps never run.
   */
  private async expired(job: Job): Promise<boolean> {
    const now = this.clock.now();
    const late = lateForStart(job, now);
    if (late === undefined) return false;
    const started = await this.pool.query("select 1 from workflows where parent_id = $1", [job.taskId]);
    if (started.rowCount) return false;
    // Attempt 1, as every event the orchestrator publishes for a workflow.
    await publishEvent(this.nc.jetstream(), this.topo, expiredEvent(job, { lateMs: late, atMs: now, attempt: 1, workerId: "orchestrator" }));
    this.logger.info({ task_id: job.taskId, late_ms: late }, "workflow expired before start; not run");
    return true;
  }

  private async parentEvent(client: PoolClient, wf: WorkflowRow, parent: TaskRow | Job, state: TaskState, extra: Partial<TaskEvent>): Promise<void> {
    const ev = this.event(wf, parent, state, extra);
    await this.save(client, wf);
    await publishEvent(this.nc.jetstream(), this.topo, ev);
  }

  private total(wf: WorkflowRow): number {
    return wf.steps.length + (wf.callback ? 1 : 0);
  }

  private async progress(client: PoolClient, wf: WorkflowRow, parent: TaskRow | Job): Promise<void> {
    const done = Object.keys(wf.results).length;
    const total = this.total(wf);
    const label = wf.type === "fanout" ? "products trained" : "steps done";
    await this.parentEvent(client, wf, parent, TaskState.PROGRESS, {
      progress: { percent: total ? Math.round((done / total) * 1000) / 10 : 100, message: `${done}/${total} ${label}`, currentNode: 0, totalNodes: 0, nodeType: "", done, total },
    });
  }

  private summary(wf: WorkflowRow): unknown {
    const ordered = Object.entries(wf.children)
      .filter(([, i]) => i >= 0)
      .sort((a, b) => a[1] - b[1]);
    if (wf.type === "fanout") {
      const outcomes = ordered.map(([id, i]) => {
        const r = wf.results[id];
        const result = (r?.result ?? {}) as Record<string, unknown>;
        return { product_sku: wf.labels[i], task_id: id, state: r?.state ?? "PENDING", ...(r?.state === "SUCCESS" ? { model_version: result.model_version, accuracy: result.accuracy } : { error: r?.error }) };
      });
      return { total: outcomes.length, succeeded: outcomes.filter((o) => o.state === "SUCCESS").length, failed: outcomes.filter((o) => o.state !== "SUCCESS").length, outcomes };
    }
    const results = ordered.map(([id]) => wf.results[id]?.result ?? null);
    if (wf.type === "chain") return { result: results[results.length - 1] ?? null, results, children: ordered.map(([id]) => id) };
    if (wf.type === "chord") return { result: wf.callback_id ? (wf.results[wf.callback_id]?.result ?? null) : null, group_results: results, children: Object.keys(wf.children) };
    return { results, children: ordered.map(([id]) => id) };
  }

  private async finish(client: PoolClient, wf: WorkflowRow, parent: TaskRow | Job, state: TaskState, out: { result?: unknown; error?: TaskError }): Promise<void> {
    wf.done = true;
    await this.parentEvent(client, wf, parent, state, {
      resultJson: out.result === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(out.result)),
      error: out.error,
      progress: { percent: 100, message: state === TaskState.SUCCESS ? "all children finished" : "stopped", currentNode: 0, totalNodes: 0, nodeType: "", done: Object.keys(wf.results).length, total: this.total(wf) },
    });
    this.logger.info({ task_id: wf.parent_id, state, type: wf.type }, "workflow finished");
  }

  // Finished children waiting to be folded into their parent, per parent. One
  // fold runs per parent at a time, so a fan-out of 1,000 children takes a
  // handful of transactions instead of 1,000 contending for one row lock.
  private readonly queued = new Map<string, Set<string>>();
  private readonly advancing = new Set<string>();

  private enqueue(parentId: string, childId: string): void {
    let set = this.queued.get(parentId);
    if (!set) this.queued.set(parentId, (set = new Set()));
    set.add(childId);
    this.kick(parentId);
  }

  private kick(parentId: string): void {
    if (this.advancing.has(parentId) || !this.queued.get(parentId)?.size) return;
    this.advancing.add(parentId);
    const ids = [...this.queued.get(parentId)!];
    this.queued.delete(parentId);
    void this.advance(parentId, ids)
      .catch((err) => this.logger.warn({ task_id: parentId, children: ids.length, err: errorMessage(err) }, "could not advance workflow; the sweep will retry"))
      .finally(() => {
        this.advancing.delete(parentId);
        this.kick(parentId);
      });
  }

  /** Folds finished children into their parent: next step, callback, or outcome. */
  async advance(parentId: string, childIds: string[]): Promise<void> {
    let cancelSiblings: { tenant: string; ids: string[]; because: string } | undefined;
    await inTransaction(this.pool, async (client) => {
      const wf = await this.lock(client, parentId);
      const fresh = wf && !wf.done ? childIds.filter((id) => !wf.results[id] && wf.children[id] !== undefined) : [];
      const rows = fresh.length ? await this.store.readRows(client, [...fresh, parentId]) : new Map<string, TaskRow>();
      const parent = rows.get(parentId);
      const finished = fresh
        .map((id) => rows.get(id))
        .filter((r): r is TaskRow => !!r && isTerminal(r.state))
        .sort((a, b) => wf.children[a.taskId] - wf.children[b.taskId]);
      if (!wf || !parent || !finished.length) return;
      for (const child of finished) {
        const stateName = TaskState[child.state] as string;
        wf.results[child.taskId] = { state: stateName, result: child.result ?? undefined, error: child.error ?? undefined };
        const index = wf.children[child.taskId];
        if (parent.cancelRequested || isTerminal(parent.state)) {
          wf.done = true;
          break;
        }
        if (child.state !== TaskState.SUCCESS && !wf.settle_all) {
          const e = child.error;
          await this.finish(client, wf, parent, TaskState.FAILURE, {
            error: { type: e?.type || "ChildFailed", message: `${index === -1 ? "callback" : `step ${index}`} (${child.taskId}) ${stateName.toLowerCase()}: ${e?.message ?? ""}`, code: e?.code || "CHILD_FAILED", retryable: false },
            result: this.summary(wf),
          });
          // Siblings still running are no longer needed.
          cancelSiblings = { tenant: wf.tenant, ids: Object.keys(wf.children).filter((id) => id !== child.taskId && !wf.results[id]), because: child.taskId };
          break;
        }
        if (wf.type === "chain" && index >= 0 && index + 1 < wf.steps.length) {
          await this.launch(client, wf, parent, index + 1, Buffer.from(JSON.stringify(child.result ?? null)));
        }
      }
      if (!wf.done) {
        // Once per batch, in linear time: which steps have finished?
        const finishedSteps = new Set<number>();
        for (const [id, i] of Object.entries(wf.children)) if (wf.results[id]) finishedSteps.add(i);
        const groupDone = wf.steps.every((_, i) => finishedSteps.has(i));
        if (wf.type === "chord" && groupDone && !wf.callback_id) {
          const ordered = Object.entries(wf.children)
            .filter(([, i]) => i >= 0)
            .sort((a, b) => a[1] - b[1])
            .map(([id]) => wf.results[id]?.result ?? null);
          await this.launch(client, wf, parent, -1, Buffer.from(JSON.stringify(ordered)));
        } else if (groupDone && (wf.type !== "chord" || (wf.callback_id && wf.results[wf.callback_id]))) {
          await this.finish(client, wf, parent, TaskState.SUCCESS, { result: this.summary(wf) });
        }
      }
      if (wf.done) await this.save(client, wf);
      else await this.progress(client, wf, parent);
    });
    if (cancelSiblings) {
      for (const id of cancelSiblings.ids) await this.canceller.cancel(cancelSiblings.tenant, id, `sibling ${cancelSiblings.because} failed`).catch(() => undefined);
    }
  }

  /** Hook for the projector: children that just reached a terminal state. */
  onCommitted(rows: { taskId: string; state: number; parentId: string | null }[]): void {
    for (const r of rows) if (r.parentId && isTerminal(r.state)) this.enqueue(r.parentId, r.taskId);
  }

  /** Re-checks running parents whose children finished (a missed trigger). */
  async sweep(): Promise<void> {
    const r = await this.pool.query(
      `select w.parent_id, t.task_id from workflows w join tasks t on t.parent_id = w.parent_id
       where not w.done and t.state in ('SUCCESS','FAILURE','REVOKED') and not (w.results ? t.task_id) limit 500`,
    );
    for (const x of r.rows) this.enqueue(x.parent_id, x.task_id);
  }
}

function blankJob(): Job {
  return Job.fromPartial({});
}
