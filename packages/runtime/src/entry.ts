import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createLogger, type Logger } from "./logger";
import { onShutdown } from "./shutdown";

/** Whether the module at `metaUrl` is the file node was started with (symlinks resolved). */
export function isEntryFile(metaUrl: string): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(metaUrl));
  } catch {
    return false;
  }
}

/**
 * A service's process entry: read its config (the caller passes process.env
 * to its own schema), start it, and drain it on SIGTERM. A failed start is
 * logged and exits 1.
 */
export function runService<C extends { LOG_LEVEL: string }>(
  name: string,
  readConfig: () => C,
  start: (config: C, logger: Logger) => Promise<{ close(): Promise<void> }>,
): void {
  void (async () => {
    const config = readConfig();
    const logger = createLogger(name, config.LOG_LEVEL);
    const svc = await start(config, logger);
    onShutdown(logger, () => svc.close());
  })().catch((err) => {
    createLogger(name).fatal({ err }, `${name} failed to start`);
    process.exit(1);
  });
}
