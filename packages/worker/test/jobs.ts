// The predict job the worker tests run: tenant acme, queue default, fast retries.
import { Job } from "@millrace/contracts";

export function predictJob(taskId: string, extra: Partial<Job> = {}): Job {
  return Job.fromPartial({
    taskId,
    tenant: "acme",
    kind: "predict",
    queue: "default",
    createdAtMs: Date.now(),
    retry: { maxAttempts: 3, initialMs: 20, factor: 2, maxMs: 100, jitter: 0 },
    payload: { $case: "predict", value: { model: "m", instancesJson: Buffer.from("[]") } },
    ...extra,
  });
}
