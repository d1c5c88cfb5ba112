import { connect, DebugEvents, Events, type ConnectionOptions, type NatsConnection } from "nats";
import type { Logger } from "pino";
import type { BaseConfig } from "./config";
import { DependencyUnavailableError } from "./errors";
import { redactUrl } from "./logger";

export interface NatsOptions {
  url: string;
  user?: string;
  password?: string;
  name: string;
  logger?: Logger;
  /** How long to keep trying for the first connection. */
  connectTimeoutMs?: number;
  /**
   * Writes are held this long (ms) to gather others into one syscall; 0 holds
   * them to the end of the event-loop turn. Our patch of nats.js reads it.
   */
  flushDelayMs?: number;
  /**
   * Replies (JetStream API answers, fetched messages, acks) arrive under
   * `<inboxPrefix>.>`; default `_INBOX_<name up to its first '-'>`, so each
   * service's NATS user may read its own replies only (nats-permissions.conf).
   */
  inboxPrefix?: string;
  /** How often the client pings the server to find a dead connection (default 10 s). */
  pingIntervalMs?: number;
}

/** The NATS options a service's config gives: URL, credentials, write coalescing. */
export function natsOptionsFrom(config: Pick<BaseConfig, "NATS_URL" | "NATS_USER" | "NATS_PASSWORD" | "NATS_FLUSH_MS">, name: string, logger?: Logger): NatsOptions {
  return { url: config.NATS_URL, user: config.NATS_USER, password: config.NATS_PASSWORD, name, logger, flushDelayMs: config.NATS_FLUSH_MS };
}

/**
 * The level a connection status event is logged at. The client reports a ping
 * tick every interval (pingTimer) and each reconnect try: at info they would
 * fill a quiet service's log with a line per service every 10 s.
 */
export function natsStatusLevel(type: string): "debug" | "info" | "warn" | "error" {
  switch (type) {
    case Events.Error:
      return "error";
    case Events.Disconnect:
    case Events.LDM:
    case DebugEvents.StaleConnection:
      return "warn";
    case Events.Reconnect:
    case Events.Update:
      return "info";
    default:
      return "debug";
  }
}

/**
 * Connects with unlimited reconnects: a NATS restart must not kill a service,
 * only pause it. The first connection is retried until connectTimeoutMs.
 */
export async function connectNats(opts: NatsOptions): Promise<NatsConnection> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 30_000);
  let lastErr: unknown;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      const nc = await connect({
        servers: opts.url,
        user: opts.user,
        pass: opts.password,
        name: opts.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: opts.pingIntervalMs ?? 10_000,
        waitOnFirstConnect: false,
        // Skips building an Error (a stack trace) for every request and publish.
        noAsyncTraces: true,
        flushDelayMs: opts.flushDelayMs ?? 0,
        inboxPrefix: opts.inboxPrefix ?? `_INBOX_${opts.name.split("-")[0]}`,
      } as ConnectionOptions);
      void (async () => {
        for await (const s of nc.status()) {
          opts.logger?.[natsStatusLevel(s.type)]({ nats_status: s.type, data: typeof s.data === "string" ? s.data : undefined }, "nats status");
        }
      })();
      opts.logger?.info({ nats_url: redactUrl(opts.url) }, "connected to nats");
      return nc;
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }
  throw new DependencyUnavailableError(`cannot reach NATS at ${redactUrl(opts.url)}`, { cause: lastErr });
}
