import type { RetryPolicy } from "@millrace/contracts";

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, initialMs: 1_000, factor: 2, maxMs: 60_000, jitter: 0.5 };

/** Fills unset fields of a request's retry policy from a kind's defaults. */
export function mergeRetry(base: RetryPolicy, override?: Partial<RetryPolicy>): RetryPolicy {
  const o = override ?? {};
  return {
    maxAttempts: o.maxAttempts || base.maxAttempts,
    initialMs: o.initialMs || base.initialMs,
    factor: o.factor || base.factor,
    maxMs: o.maxMs || base.maxMs,
    jitter: o.jitter ?? base.jitter,
  };
}

/**
 * Delay before attempt `attempt + 1`, after `attempt` failed (1-based):
 * initial * factor^(attempt-1), capped at max, with the `jitter` fraction of
 * it drawn at random so retries from many tasks spread out.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const raw = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, Math.max(0, attempt - 1)));
  const j = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(raw * (1 - j) + raw * j * random());
}
