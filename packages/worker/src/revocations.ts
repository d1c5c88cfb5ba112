import type { KV } from "nats";
import { mirrorKv, type Logger } from "@millrace/runtime";

/**
 * An in-memory mirror of the revocations KV bucket, kept current by a watch.
 * Every worker checks it before starting a job, so a revoked task never
 * starts — including after every service restarted, since the bucket is
 * stored in JetStream.
 */
export class RevocationCache {
  private readonly ids = new Set<string>();
  private stopFn?: () => void;

  constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.stopFn = await mirrorKv(
      this.kv,
      (e) => {
        if (e.operation === "PUT") this.ids.add(e.key);
        else this.ids.delete(e.key);
      },
      this.logger,
      "revocation",
    );
  }

  has(taskId: string): boolean {
    return this.ids.has(taskId);
  }

  add(taskId: string): void {
    this.ids.add(taskId);
  }

  stop(): void {
    this.stopFn?.();
  }
}
