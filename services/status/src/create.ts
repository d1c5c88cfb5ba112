import type { Job } from "@millrace/contracts";
import type { TaskStore } from "./store";

/**
 * Group commit for CreateTask: calls that arrive while an insert runs are
 * written together in the next statement. Under load this turns hundreds of
 * single-row inserts a second into a few multi-row ones.
 */
export class CreateBatcher {
  private pending: { job: Job; resolve: (inserted: boolean) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly store: TaskStore,
    private readonly maxBatch = 500,
  ) {}

  /** Resolves true when the row was inserted, false when the task id existed. */
  add(job: Job): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          const inserted = await this.store.insertPending(batch.map((b) => b.job));
          for (const b of batch) b.resolve(inserted.has(b.job.taskId));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
