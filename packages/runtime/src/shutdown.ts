import type { Logger } from "pino";

/**
 * Runs `close` once on SIGTERM/SIGINT (drain in-flight work, then close
 * connections) and exits. A second signal exits at once.
 */
export function onShutdown(logger: Logger, close: () => Promise<void>, timeoutMs = 30_000): void {
  let closing = false;
  const handler = (signal: string) => {
    if (closing) process.exit(1);
    closing = true;
    logger.info({ signal }, "shutting down: draining");
    const t = setTimeout(() => {
      logger.error("drain timed out; exiting");
      process.exit(1);
    }, timeoutMs);
    t.unref();
    close().then(
      () => {
        logger.info("drained; bye");
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, "error while draining");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => handler("SIGTERM"));
  process.on("SIGINT", () => handler("SIGINT"));
}
