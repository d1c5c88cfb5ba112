import type { KV } from "nats";
import type { Job } from "@millrace/contracts";
import { commaList, type Clock } from "@millrace/runtime";

/**
 * Limits that hold across every worker replica, kept in the JetStream KV
 * bucket `limits` and updated with compare-and-set on the entry's revision:
 *  - a token bucket per job kind (jobs per minute);
 *  - a concurrency limit per key (tenant or model), as leases with their own
 *    expiry (2.9 has no per-key TTL), so a worker that dies frees its slot.
 */
export interface LimitPolicy {
  /** Jobs of this kind started per minute, across all workers. */
  ratePerMinute?: number;
  /** Burst size of the token bucket (default: one second's worth, at least 1). */
  burst?: number;
  /** Jobs running at once per key, across all workers. */
  concurrencyPerKey?: number;
  /** What the key is: the tenant, or the model the job names. */
  concurrencyBy?: "tenant" | "model";
}

interface Bucket {
  tokens: number;
  at: number;
}

interface Holders {
  holders: Record<string, number>; // task id → lease expiry (ms)
}

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const dec = <T>(b: Uint8Array): T => JSON.parse(new TextDecoder().decode(b)) as T;
const safe = (s: string) => s.replace(/[^A-Za-z0-9_=-]/g, "_");

/** The concurrency key of a job under a policy, or undefined when it has none. */
export function concurrencyKey(job: Job, by: LimitPolicy["concurrencyBy"]): string | undefined {
  if (job.concurrencyKey) return job.concurrencyKey;
  if (by === "tenant") return job.tenant;
  if (by === "model") {
    const p = job.payload;
    if (p?.$case === "predict" || p?.$case === "explain") return `${job.tenant}/${p.value.model.split("@")[0]}`;
    if (p?.$case === "train") return `${job.tenant}/${p.value.name}`;
    return job.tenant;
  }
  return undefined;
}

export class Limits {
  constructor(
    private readonly kv: KV,
    private readonly clock: Clock,
    private readonly leaseMs: number,
  ) {}

  /** Takes one token for `kind`; returns 0, or how long to wait before trying again. */
  async takeToken(kind: string, policy: LimitPolicy): Promise<number> {
    const rate = policy.ratePerMinute ?? 0;
    if (rate <= 0) return 0;
    const perMs = rate / 60_000;
    const burst = Math.max(1, policy.burst ?? Math.floor(rate / 60));
    const key = `rate.${safe(kind)}`;
    for (;;) {
      const now = this.clock.now();
      const e = await this.kv.get(key);
      const cur: Bucket = e && e.operation === "PUT" && e.value.length ? dec<Bucket>(e.value) : { tokens: burst, at: now };
      const tokens = Math.min(burst, cur.tokens + Math.max(0, now - cur.at) * perMs);
      if (tokens < 1) return Math.ceil((1 - tokens) / perMs);
      try {
        const next = enc({ tokens: tokens - 1, at: now });
        if (e && e.operation === "PUT") await this.kv.update(key, next, e.revision);
        else await this.kv.create(key, next);
        return 0;
      } catch {
        // Another worker took a token meanwhile; read again.
      }
    }
  }

  private async mutateHolders(key: string, fn: (h: Holders, now: number) => boolean): Promise<boolean> {
    for (;;) {
      const now = this.clock.now();
      const e = await this.kv.get(key);
      const h: Holders = e && e.operation === "PUT" && e.value.length ? dec<Holders>(e.value) : { holders: {} };
      for (const [id, exp] of Object.entries(h.holders)) if (exp <= now) delete h.holders[id];
      if (!fn(h, now)) return false;
      try {
        if (e && e.operation === "PUT") await this.kv.update(key, enc(h), e.revision);
        else await this.kv.create(key, enc(h));
        return true;
      } catch {
        /* lost the race; retry */
      }
    }
  }

  /** Joins the holders of `key` when fewer than `limit` hold it. */
  acquire(kind: string, key: string, taskId: string, limit: number): Promise<boolean> {
    return this.mutateHolders(`conc.${safe(kind)}.${safe(key)}`, (h, now) => {
      if (!(taskId in h.holders) && Object.keys(h.holders).length >= limit) return false;
      h.holders[taskId] = now + this.leaseMs;
      return true;
    });
  }

  /** Extends a held lease (called while the job runs). */
  renew(kind: string, key: string, taskId: string): Promise<boolean> {
    return this.mutateHolders(`conc.${safe(kind)}.${safe(key)}`, (h, now) => {
      h.holders[taskId] = now + this.leaseMs;
      return true;
    });
  }

  release(kind: string, key: string, taskId: string): Promise<boolean> {
    return this.mutateHolders(`conc.${safe(kind)}.${safe(key)}`, (h) => {
      if (!(taskId in h.holders)) return false;
      delete h.holders[taskId];
      return true;
    });
  }
}

/**
 * Reads limits from two settings, e.g. RATE_LIMITS="train=120,predict=60000"
 * (jobs per minute) and CONCURRENCY_LIMITS="train=tenant:2,predict=model:8".
 * Throws a message naming the bad entry.
 */
export function parseLimits(rate: string, concurrency: string): Record<string, LimitPolicy> {
  const out: Record<string, LimitPolicy> = {};
  for (const part of commaList(rate)) {
    const m = /^([a-z_]+)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!m) throw new Error(`rate limit "${part}" is not kind=jobs_per_minute`);
    out[m[1]] = { ...out[m[1]], ratePerMinute: Number(m[2]) };
  }
  for (const part of commaList(concurrency)) {
    const m = /^([a-z_]+)=(tenant|model):(\d+)$/.exec(part);
    if (!m) throw new Error(`concurrency limit "${part}" is not kind=tenant:N or kind=model:N`);
    out[m[1]] = { ...out[m[1]], concurrencyBy: m[2] as "tenant" | "model", concurrencyPerKey: Number(m[3]) };
  }
  return out;
}

/**
 * Per-kind default time limits, e.g. TIME_LIMITS="train=600000:900000"
 * (soft:hard ms; either may be 0 for none). A request's time_limits win.
 */
export function parseTimeLimits(spec: string): Record<string, { softMs: number; hardMs: number }> {
  const out: Record<string, { softMs: number; hardMs: number }> = {};
  for (const part of commaList(spec)) {
    const m = /^([a-z_]+)=(\d+):(\d+)$/.exec(part);
    if (!m) throw new Error(`time limit "${part}" is not kind=soft_ms:hard_ms`);
    out[m[1]] = { softMs: Number(m[2]), hardMs: Number(m[3]) };
  }
  return out;
}
