// The schedules the seeds ran under Celery Beat, seeded once per tenant on
// first start. Deleting or editing one later sticks: seeding never repeats.
import type { ScheduleInput, ScheduleStore } from "./store";
import { nextFireFrom } from "./timing";

export const DEFAULT_SCHEDULES: readonly ScheduleInput[] = [
  {
    // Celery Beat's train-all-models-nightly: crontab(hour=2, minute=0), UTC.
    name: "train-all-products",
    cron: "0 2 * * *",
    intervalSeconds: 0,
    timezone: "UTC",
    kind: "train_all_products",
    // An empty SKU list: the trainer resolves the tenant's products.
    payload: { product_skus: [] },
    enabled: true,
    queue: "batch",
    catchUp: "run_once",
  },
  {
    name: "cleanup-expired-results",
    cron: "0 3 * * *",
    intervalSeconds: 0,
    timezone: "UTC",
    kind: "maintenance",
    payload: { action: "cleanup_expired_results" },
    enabled: true,
    queue: "batch",
    catchUp: "run_once",
  },
  {
    // Re-scores each production model on its latest data and records drift.
    name: "validate-models",
    cron: "0 */6 * * *",
    intervalSeconds: 0,
    timezone: "UTC",
    kind: "maintenance",
    payload: { action: "validate_models" },
    enabled: true,
    queue: "batch",
    // The next run is at most six hours away.
    catchUp: "skip",
  },
];

/** Seeds the defaults for `tenant` unless it was seeded before. Returns the names inserted. */
export function seedDefaults(store: ScheduleStore, tenant: string, nowMs: number): Promise<string[]> {
  const rows = DEFAULT_SCHEDULES.map((s) => ({
    ...s,
    tenant,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    lastFireAtMs: null,
    nextFireAtMs: nextFireFrom({ ...s, createdAtMs: nowMs }, nowMs),
  }));
  return store.seed(tenant, rows, nowMs);
}
