import type { NatsConnection, Subscription } from "nats";
import { TaskChangedBatch } from "@millrace/contracts";
import type { Logger } from "./logger";
import type { Topology } from "./topology";

/**
 * Follows the status service's change notices (one TaskChangedBatch per
 * projection commit, from any replica). Messages that do not decode are
 * skipped: a notice is a hint to re-read, never the only record.
 */
export function subscribeTaskChanges(nc: NatsConnection, topo: Topology, logger: Logger, onBatch: (batch: TaskChangedBatch) => void): Subscription {
  return nc.subscribe(topo.changedBatch, {
    callback: (err, m) => {
      if (err) return logger.warn({ err: err.message }, "task change notices ended");
      let batch: TaskChangedBatch;
      try {
        batch = TaskChangedBatch.decode(m.data);
      } catch {
        return;
      }
      onBatch(batch);
    },
  });
}
