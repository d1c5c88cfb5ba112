// Leader lease in JetStream KV. nats-server 2.9 has no per-key TTL, so the
// value carries its own expiry; every write is a compare-and-set on the key's
// revision, and the revision we last wrote is our fencing token.
import type { KV, KvEntry } from "nats";
import type { Clock, Logger } from "@millrace/runtime";

export interface LeaseValue {
  holder: string;
  expires_at_ms: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isCasFailure(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string };
  // 10071: wrong last sequence for subject (the key moved under us).
  return e?.api_error?.err_code === 10071 || /wrong last sequence/i.test(e?.message ?? "");
}

function parse(entry: KvEntry | null): LeaseValue | null {
  if (!entry || entry.operation !== "PUT") return null;
  try {
    const v = JSON.parse(decoder.decode(entry.value)) as LeaseValue;
    return typeof v.holder === "string" && typeof v.expires_at_ms === "number" ? v : null;
  } catch {
    return null;
  }
}

export class LeaderLease {
  private revision = 0;
  private expiresAt = 0;
  private renewedAt = 0;

  constructor(
    private readonly kv: KV,
    private readonly key: string,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** We wrote the current lease and it has not expired by our clock. */
  get held(): boolean {
    return this.revision > 0 && this.expiresAt > this.clock.now();
  }

  /** The KV revision of our last write; a later writer always has a higher one. */
  get fencingToken(): number {
    return this.revision;
  }

  private value(expiresAt: number): Uint8Array {
    return encoder.encode(JSON.stringify({ holder: this.holder, expires_at_ms: expiresAt } satisfies LeaseValue));
  }

  private lose(why: string): void {
    if (this.revision > 0) this.logger.warn({ holder: this.holder, revision: this.revision, why }, "lost scheduler leadership");
    this.revision = 0;
    this.expiresAt = 0;
  }

  /**
   * Takes the lease when nobody holds it (create) or the holder's lease has
   * expired by our clock (compare-and-set on the revision we read).
   */
  async acquire(): Promise<boolean> {
    if (this.held) return this.renew();
    const now = this.clock.now();
    const entry = await this.kv.get(this.key);
    const current = parse(entry);
    if (current && current.expires_at_ms > now) return false;
    try {
      const expiresAt = now + this.ttlMs;
      this.revision = entry && entry.operation === "PUT" ? await this.kv.update(this.key, this.value(expiresAt), entry.revision) : await this.kv.create(this.key, this.value(expiresAt));
      this.expiresAt = expiresAt;
      this.renewedAt = now;
      this.logger.info({ holder: this.holder, revision: this.revision, previous_holder: current?.holder }, "became scheduler leader");
      return true;
    } catch (err) {
      if (isCasFailure(err)) return false; // another replica won the race
      throw err;
    }
  }

  /** Extends the lease; a failed compare-and-set means someone took over. */
  async renew(): Promise<boolean> {
    if (this.revision === 0) return false;
    const now = this.clock.now();
    try {
      const expiresAt = now + this.ttlMs;
      this.revision = await this.kv.update(this.key, this.value(expiresAt), this.revision);
      this.expiresAt = expiresAt;
      this.renewedAt = now;
      return true;
    } catch (err) {
      if (isCasFailure(err)) {
        this.lose("renewal compare-and-set failed");
        return false;
      }
      // NATS unreachable: keep the lease until it runs out by our clock.
      this.logger.warn({ err: (err as Error).message }, "lease renewal failed");
      return this.held;
    }
  }

  /** The stored lease is still the one we wrote, and it has not expired. */
  async verify(): Promise<boolean> {
    if (!this.held) return false;
    const entry = await this.kv.get(this.key);
    const current = parse(entry);
    if (!entry || entry.revision !== this.revision || current?.holder !== this.holder) {
      this.lose(`lease now at revision ${entry?.revision ?? 0} held by ${current?.holder ?? "nobody"}`);
      return false;
    }
    return this.held;
  }

  /** Checked before every fire: renews when a third of the TTL has passed, else verifies. */
  async confirm(): Promise<boolean> {
    if (!this.held) return false;
    if (this.clock.now() - this.renewedAt >= this.ttlMs / 3) return this.renew();
    return this.verify();
  }

  /** Renews when due; the leader loop calls this every tick. */
  async keep(): Promise<boolean> {
    if (this.revision === 0) return false;
    if (this.clock.now() - this.renewedAt >= this.ttlMs / 3 || !this.held) return this.renew();
    return true;
  }

  /** Deletes the lease (only if still ours) so another replica takes over at once. */
  async release(): Promise<void> {
    if (this.revision === 0) return;
    const revision = this.revision;
    this.revision = 0;
    this.expiresAt = 0;
    try {
      await this.kv.delete(this.key, { previousSeq: revision });
      this.logger.info({ holder: this.holder, revision }, "released scheduler lease");
    } catch (err) {
      if (!isCasFailure(err)) this.logger.warn({ err: (err as Error).message }, "could not release lease");
    }
  }
}
