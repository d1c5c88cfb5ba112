import { ConfigError, errorMessage, z } from "@millrace/runtime";
import { parseLimits, parseTimeLimits } from "./limits";
import type { KindPolicy } from "./worker";

/** Settings every worker service reads (spread into its own config schema). */
export const workerConfigShape = {
  JOB_ACK_WAIT_MS: z.coerce.number().int().positive().default(30_000),
  WORKER_ID: z.string().optional(),
  // Limits that hold across all replicas, e.g. "train=120" and "train=tenant:2".
  RATE_LIMITS: z.string().default(""),
  CONCURRENCY_LIMITS: z.string().default(""),
  // Per-kind default time limits, "kind=soft_ms:hard_ms"; a request's own win.
  TIME_LIMITS: z.string().default(""),
};

/** Each served kind's policy: default retries plus the configured limits. */
export function kindPolicies(kinds: string[], config: { RATE_LIMITS: string; CONCURRENCY_LIMITS: string; TIME_LIMITS: string }): Record<string, KindPolicy> {
  let limits: Record<string, KindPolicy["limits"]>;
  let timeLimits: Record<string, KindPolicy["timeLimits"]>;
  try {
    limits = parseLimits(config.RATE_LIMITS, config.CONCURRENCY_LIMITS);
    timeLimits = parseTimeLimits(config.TIME_LIMITS);
  } catch (err) {
    throw new ConfigError(errorMessage(err), { field: "RATE_LIMITS/CONCURRENCY_LIMITS/TIME_LIMITS" });
  }
  return Object.fromEntries(kinds.map((kind) => [kind, { retry: { maxAttempts: 3 }, limits: limits[kind], timeLimits: timeLimits[kind] }]));
}
