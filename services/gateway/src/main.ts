// Gateway entry point: reads its config once, connects NATS, Postgres and the
// gRPC services, and serves the HTTP API. The wiring is exported so tests
// build the gateway in-process (buildApp) or on a real socket (startGateway).
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import type { Hono } from "hono";
import {
  Topology,
  connectNats,
  natsOptionsFrom,
  connectPostgres,
  createLogger,
  ensureTopology,
  loadConfig,
  migrate,
  isEntryFile,
  runService,
  systemClock,
} from "@millrace/runtime";
import { Submissions } from "@millrace/submissions";
import { buildApp } from "./app";
import { createAuthenticator } from "./auth";
import { closeGrpcClients, createGrpcClients } from "./clients";
import { gatewayConfigSchema, type GatewayConfig } from "./config";
import { FinishedTasks } from "./finished-tasks";
import { TokenRevocations } from "./token-revocations";
import type { GatewayDeps, GatewayEnv } from "./context";

export { buildApp } from "./app";
export { createAuthenticator } from "./auth";
export type { Authenticator, Principal } from "./auth";
export { gatewayConfigSchema } from "./config";
export { FinishedTasks } from "./finished-tasks";
export { TokenRevocations } from "./token-revocations";
export type { GatewayConfig } from "./config";
export type { GatewayDeps, GatewayEnv, TaskRecorder } from "./context";

export interface RunningGateway {
  app: Hono<GatewayEnv>;
  deps: GatewayDeps;
  server: ServerType;
  port: number;
  /** Drains: stops accepting, ends long polls and event streams, closes what it opened. */
  close(): Promise<void>;
}

const DRAIN_MS = 10_000;

/**
 * Connects everything not given in `overrides` and serves on config.PORT
 * (0 = an ephemeral port). Only what it opened itself is closed by close().
 */
export async function startGateway(config: GatewayConfig, overrides: Partial<Omit<GatewayDeps, "config" | "shutdown">> = {}): Promise<RunningGateway> {
  const logger = overrides.logger ?? createLogger("gateway", config.LOG_LEVEL);
  const owned: Array<() => Promise<void> | void> = [];
  try {
    const nc = overrides.nc ?? (await connectNats(natsOptionsFrom(config, "gateway", logger)));
    if (!overrides.nc) owned.push(() => nc.drain());
    const topo = overrides.topo ?? new Topology(config.MILLRACE_NAMESPACE);
    await ensureTopology(nc, topo);
    const pool = overrides.pool ?? (await connectPostgres({ url: config.DATABASE_URL, createDatabase: true, logger, max: 20 }));
    if (!overrides.pool) {
      owned.push(() => pool.end());
      await migrate(pool, logger);
    }
    // Loaded before the first request: a revoked token is never served from a partial list.
    let revocations: TokenRevocations | undefined;
    if (!overrides.auth) {
      revocations = new TokenRevocations(await nc.jetstream().views.kv(topo.bucket("revoked_tokens")), logger);
      await revocations.start();
      owned.push(() => revocations?.stop());
    }
    const given = overrides.status && overrides.predictor && overrides.registry && overrides.scheduler;
    const clients = given ? undefined : createGrpcClients(config);
    if (clients) owned.push(() => closeGrpcClients(clients));
    const drain = new AbortController();
    const clock = overrides.clock ?? systemClock;
    const finished = overrides.finished ?? new FinishedTasks(clock);
    if (!overrides.finished) {
      finished.start(nc, topo, logger);
      owned.push(() => finished.stop());
    }
    const deps: GatewayDeps = {
      config,
      logger,
      nc,
      js: overrides.js ?? nc.jetstream(),
      topo,
      pool,
      submissions: overrides.submissions ?? new Submissions(pool, { clock, idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS }),
      status: overrides.status ?? clients!.status,
      predictor: overrides.predictor ?? clients!.predictor,
      registry: overrides.registry ?? clients!.registry,
      scheduler: overrides.scheduler ?? clients!.scheduler,
      auth:
        overrides.auth ??
        createAuthenticator({
          secret: config.JWT_SECRET,
          jwksUrl: config.JWKS_URL,
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          cacheSize: config.AUTH_CACHE_SIZE,
          clock,
          revocations,
        }),
      finished,
      clock,
      shutdown: drain.signal,
    };
    const app = buildApp(deps);
    const { server, port } = await new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info: AddressInfo) => resolve({ server: s, port: info.port }));
      s.once("error", reject);
    });
    logger.info({ port }, "gateway listening");

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        drain.abort();
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            if ("closeAllConnections" in server) server.closeAllConnections();
          }, DRAIN_MS);
          // Keep-alive sockets become idle as their last response (a long
          // poll, an event stream) ends: close them as they do.
          const idle = setInterval(() => {
            if ("closeIdleConnections" in server) server.closeIdleConnections();
          }, 50);
          force.unref();
          server.close(() => {
            clearTimeout(force);
            clearInterval(idle);
            resolve();
          });
          if ("closeIdleConnections" in server) server.closeIdleConnections();
        });
        for (const f of owned.reverse()) await f();
      })());
    return { app, deps, server, port, close };
  } catch (err) {
    for (const f of owned.reverse()) await Promise.resolve(f()).catch(() => undefined);
    throw err;
  }
}

if (isEntryFile(import.meta.url)) runService("gateway", () => loadConfig(gatewayConfigSchema, process.env), (config, logger) => startGateway(config, { logger }));
