import { AckPolicy, type JsMsg, type NatsConnection } from "nats";
import type { TaskEvent } from "@millrace/contracts";
import type { Logger, Pool, Topology } from "@millrace/runtime";
import { decodeEvents, stateName } from "@millrace/runtime";
import { announceChanges } from "./notices";
import { projectBatch, type ProjectionOptions, type TaskRow } from "./projection";
import type { TaskStore } from "./store";

export interface ProjectorOptions extends ProjectionOptions {
  /** Events per transaction (a batch message counts as its events). */
  batchMax: number;
}

/** A received message with its events; none when it could not be decoded. */
interface Received {
  m: JsMsg;
  events: TaskEvent[] | undefined;
}

/**
 * Consumes the event stream through a durable consumer and folds each batch
 * into Postgres in one transaction. Messages are acked only after the commit,
 * so a crash replays them; the projection is idempotent, so replay is safe.
 * Batches form naturally: while one commit runs, the next batch accumulates.
 */
export class Projector {
  private buffer: Received[] = [];
  private ackAll = false;
  private flushing = false;
  private scheduled = false;
  private stopped = false;
  private idle: Array<() => void> = [];
  private messages?: { stop(): void; close(): Promise<void | Error> };
  projected = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly pool: Pool,
    private readonly store: TaskStore,
    private readonly topo: Topology,
    private readonly opts: ProjectorOptions,
    private readonly logger: Logger,
    private readonly onCommitted?: (rows: { taskId: string; state: number; parentId: string | null; kind: string }[]) => void,
  ) {}

  async start(): Promise<void> {
    const js = this.nc.jetstream();
    const consumer = await js.consumers.get(this.topo.eventsStream, this.topo.projectorConsumer);
    // A consumer made by an older release acks all; NATS cannot change an
    // existing consumer's ack policy, so it is honoured and flagged: it is only
    // safe while a single status replica consumes it.
    this.ackAll = (await consumer.info(true)).config.ack_policy === AckPolicy.All;
    if (this.ackAll) {
      this.logger.warn(
        { consumer: this.topo.projectorConsumer },
        "projector consumer uses ack-all: safe with one status replica only; delete it so start-up recreates it with explicit ack",
      );
    }
    const messages = await consumer.consume({ max_messages: Math.max(1000, this.opts.batchMax * 4) });
    this.messages = messages;
    void (async () => {
      for await (const m of messages) {
        if (this.stopped) break;
        this.buffer.push(this.decode(m));
        this.schedule();
      }
    })().catch((err) => this.logger.error({ err }, "projector consume loop ended"));
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // setImmediate lets every message already read from the socket join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.buffer.length) {
        // Whole messages, up to batchMax events (always at least one message).
        let n = 0;
        let events = 0;
        for (; n < this.buffer.length; n++) {
          const weight = this.buffer[n].events?.length ?? 1;
          if (n > 0 && events + weight > this.opts.batchMax) break;
          events += weight;
        }
        await this.commit(this.buffer.splice(0, n));
      }
    } finally {
      this.flushing = false;
      if (!this.buffer.length) for (const r of this.idle.splice(0)) r();
      else this.schedule();
    }
  }

  private decode(m: JsMsg): Received {
    try {
      // A worker's TaskEventBatch (events._batch.v1) or one event (events.<task_id>).
      return { m, events: decodeEvents(this.topo, m.subject, m.data) };
    } catch (err) {
      // A message that is not a TaskEvent can never be projected: dropped loudly at its commit.
      this.logger.error({ err, seq: m.seq, subject: m.subject }, "undecodable event; terminating it");
      return { m, events: undefined };
    }
  }

  private async commit(received: Received[]): Promise<void> {
    const batch = received.map((r) => r.m);
    const events: TaskEvent[] = [];
    for (const r of received) {
      if (r.events) for (const ev of r.events) events.push(ev);
      else r.m.term();
    }
    const logTransitions = this.logger.isLevelEnabled("info");
    // Rows already written by the first step survive a retry of the second.
    const written = new Map<string, TaskRow>();
    const transitions: TaskRow[] = [];
    let fresh: { rows: Map<string, TaskRow>; transitions: TaskRow[] } | undefined = this.projectFresh(events, logTransitions);
    for (let attempt = 0; ; attempt++) {
      try {
        // 1. Tasks still as submitted (most of a busy batch): one statement, no read.
        if (fresh) {
          const applied = await this.store.writeOverPending(this.pool, [...fresh.rows.values()]);
          for (const [id, startBy] of applied) {
            const row = fresh.rows.get(id)!;
            row.startBy = startBy;
            written.set(id, row);
          }
          for (const row of fresh.transitions) if (applied.has(row.taskId)) transitions.push(row);
          fresh = undefined;
        }
        // 2. The rest from their real rows, locked, in one transaction.
        const rest = events.filter((e) => !written.has(e.taskId));
        const locked = rest.length ? await this.projectLocked(rest, logTransitions) : { rows: new Map<string, TaskRow>(), transitions: [] };
        const changed = locked.rows;
        for (const [id, row] of written) changed.set(id, row);
        transitions.push(...locked.transitions);

        if (this.ackAll) batch[batch.length - 1]?.ack();
        else for (const m of batch) m.ack();
        this.projected += events.length;
        for (const row of transitions) {
          this.logger.info({ task_id: row.taskId, state: stateName(row.state), attempt: row.attempt, kind: row.kind }, "task transition");
        }
        announceChanges(this.nc, this.topo, changed.values());
        this.onCommitted?.([...changed.values()].map((r) => ({ taskId: r.taskId, state: r.state, parentId: r.parentId, kind: r.kind })));
        return;
      } catch (err) {
        // Postgres down, a deadlock between replicas, a lost connection: all are retried, and replay is safe.
        this.logger.warn({ err: (err as Error).message, attempt }, "projection batch failed; retrying");
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
        for (const m of batch) m.working();
      }
    }
  }

  /**
   * The batch's tasks projected as if no row existed, for writeOverPending.
   * A task whose events span generations is left out (a manual retry is
   * involved, and its real row matters).
   */
  private projectFresh(events: TaskEvent[], logTransitions: boolean): { rows: Map<string, TaskRow>; transitions: TaskRow[] } {
    const generation = new Map<string, number>();
    const mixed = new Set<string>();
    for (const e of events) {
      const g = generation.get(e.taskId);
      if (g === undefined) generation.set(e.taskId, e.generation);
      else if (g !== e.generation) mixed.add(e.taskId);
    }
    const transitions: TaskRow[] = [];
    const rows = projectBatch(new Map(), mixed.size ? events.filter((e) => !mixed.has(e.taskId)) : events, this.opts, logTransitions ? transitions : undefined);
    return { rows, transitions };
  }

  /** Projects events onto their tasks' locked rows in one transaction and returns the rows it wrote. */
  private async projectLocked(events: TaskEvent[], logTransitions: boolean): Promise<{ rows: Map<string, TaskRow>; transitions: TaskRow[] }> {
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      const existing = await this.store.lockRows(
        client,
        events.map((e) => e.taskId),
      );
      const transitions: TaskRow[] = [];
      const rows = projectBatch(existing, events, this.opts, logTransitions ? transitions : undefined);
      await this.store.writeRows(client, [...rows.values()]);
      await client.query("commit");
      client.release();
      return { rows, transitions };
    } catch (err) {
      await client.query("rollback").catch(() => undefined);
      client.release(true);
      throw err;
    }
  }

  /** Resolves when everything received so far is committed. */
  drained(): Promise<void> {
    if (!this.flushing && !this.buffer.length) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    await this.drained();
  }
}
