import type { KV, KvEntry } from "nats";
import type { Logger } from "./logger";

/**
 * Keeps an in-memory mirror of a KV bucket: `apply` gets every entry there
 * now and every change after. Resolves once the current entries are applied,
 * so a caller never serves from a partial mirror; returns the watch's stop.
 */
export async function mirrorKv(kv: KV, apply: (e: KvEntry) => void, logger: Logger, what: string): Promise<() => void> {
  let ready!: () => void;
  const initialised = new Promise<void>((r) => (ready = r));
  const iter = await kv.watch({ initializedFn: () => ready() });
  void (async () => {
    for await (const e of iter) apply(e);
  })().catch((err) => logger.warn({ err: (err as Error).message }, `${what} watch ended`));
  await initialised;
  return () => iter.stop();
}
