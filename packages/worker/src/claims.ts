import type { KV } from "nats";
import type { Job } from "@millrace/contracts";
import type { Clock } from "@millrace/runtime";

/**
 * Run claims: at most one stream message of a task runs at a time, even when
 * the task has two messages in JetStream. That happens when the status
 * service's reconciler republishes a task whose original is merely queued
 * behind a backlog (past the 10-minute duplicate window the copy is stored
 * beside it), or one whose worker and job message were both lost. The original
 * and the copy are different messages, so JetStream may hand them to two
 * workers at once, and the status check alone cannot order them: neither has
 * emitted STARTED yet.
 *
 * A claim is a KV entry per task and manual-retry generation that holds the
 * stream sequence of the message running it. `create` is atomic, and so is a
 * takeover (compare-and-set on the revision). A takeover is allowed for:
 * - the same message redelivered after its worker died (same stream sequence;
 *   JetStream hands one message to one worker at a time);
 * - a claim not renewed for `staleAfterMs`, whose holder is gone.
 * Any other message of the task is a duplicate and is skipped.
 *
 * Claims are kept after the run ends, so an original delivered after its copy
 * finished is skipped too. The bucket's TTL (24 h, beyond the duplicate window
 * and the result TTL) removes them.
 *
 * Only deliveries that may have a twin take a claim (see Worker.mayHaveCopy):
 * a prediction delivered milliseconds after its submit costs no KV write.
 */
export type ClaimResult = "claimed" | "taken-over" | "duplicate";

interface ClaimValue {
  seq: number;
  worker: string;
  at: number;
  /** The run ended with a terminal outcome: no staleness makes this claim another message's. */
  done?: boolean;
}

const KEY_SAFE = /^[-_=A-Za-z0-9]+$/;

/** KV keys allow [-/_=.A-Za-z0-9]; a task id with anything else is hex-encoded. */
export function claimKey(job: Pick<Job, "taskId" | "generation">): string {
  const id = KEY_SAFE.test(job.taskId) ? job.taskId : `x${Buffer.from(job.taskId).toString("hex")}`;
  return `${id}.g${job.generation}`;
}

export class RunClaims {
  /** The revision this process holds, per key: renewals are compare-and-set on it. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly kv: KV,
    private readonly clock: Clock,
    private readonly workerId: string,
    private readonly staleAfterMs: number,
  ) {}

  private encode(seq: number, done = false): Uint8Array {
    const v: ClaimValue = { seq, worker: this.workerId, at: this.clock.now(), ...(done ? { done } : {}) };
    return Buffer.from(JSON.stringify(v));
  }

  async claim(job: Pick<Job, "taskId" | "generation">, seq: number): Promise<ClaimResult> {
    const key = claimKey(job);
    try {
      this.held.set(key, await this.kv.create(key, this.encode(seq)));
      return "claimed";
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
    const entry = await this.kv.get(key);
    // Deleted or purged in between: the next claim attempt sees a clean key.
    if (!entry || entry.operation !== "PUT") return this.claimAfterRace(key, seq, entry?.revision ?? 0);
    const holder = entry.json<ClaimValue>();
    // A finished run's message redelivered (its ack was lost) must not run again either.
    if (holder.done) return "duplicate";
    const stale = this.clock.now() - holder.at > this.staleAfterMs;
    if (holder.seq !== seq && !stale) return "duplicate";
    return this.claimAfterRace(key, seq, entry.revision);
  }

  private async claimAfterRace(key: string, seq: number, revision: number): Promise<ClaimResult> {
    try {
      this.held.set(key, await this.kv.update(key, this.encode(seq), revision));
      return "taken-over";
    } catch (err) {
      // Someone else changed it first: they hold it now.
      if (isWrongLastSequence(err)) return "duplicate";
      throw err;
    }
  }

  /** Keeps a long run's claim fresh; a claim that another worker took over is dropped. */
  async renew(job: Pick<Job, "taskId" | "generation">, seq: number): Promise<void> {
    const key = claimKey(job);
    const revision = this.held.get(key);
    if (revision === undefined) return;
    try {
      this.held.set(key, await this.kv.update(key, this.encode(seq), revision));
    } catch (err) {
      if (isWrongLastSequence(err)) this.held.delete(key);
      else throw err;
    }
  }

  /** The run ended with a terminal outcome: the claim stays, marked done, until the bucket's TTL. */
  async finish(job: Pick<Job, "taskId" | "generation">, seq: number): Promise<void> {
    const key = claimKey(job);
    const revision = this.held.get(key);
    if (revision === undefined) return;
    this.held.delete(key);
    try {
      await this.kv.update(key, this.encode(seq, true), revision);
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
  }

  /** The attempt ended without an outcome (handed back, or to be retried): the same message takes the claim again. */
  forget(job: Pick<Job, "taskId" | "generation">): void {
    this.held.delete(claimKey(job));
  }
}

function isWrongLastSequence(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10071 || /wrong last sequence/i.test(e?.message ?? "");
}
