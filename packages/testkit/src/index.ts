// Test harness: real nats-server and Postgres (reached or started by
// test/global-setup.ts), isolated per test by a unique namespace and database.
import { randomBytes } from "node:crypto";
import type { NatsConnection } from "nats";
import { inject } from "vitest";
import {
  Topology,
  connectNats,
  connectPostgres,
  destroyTopology,
  dropDatabase,
  ensureTopology,
  migrate,
  type Pool,
  type TopologyOptions,
} from "@millrace/runtime";

declare module "vitest" {
  export interface ProvidedContext {
    natsUrl: string;
    databaseUrl: string;
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString("hex")}`;
}

export function testNatsUrl(): string {
  return inject("natsUrl");
}

/** A database URL for a new, unique database on the test server. */
export function testDatabaseUrl(name = uniqueName("mr_test_")): string {
  const u = new URL(inject("databaseUrl"));
  u.pathname = `/${name}`;
  return u.toString();
}

export interface NatsFixture {
  ns: string;
  topo: Topology;
  nc: NatsConnection;
  natsUrl: string;
  cleanup(): Promise<void>;
}

/** A connection plus a unique namespace with its own streams, consumers and buckets. */
export async function natsFixture(opts: TopologyOptions = {}, prefix = "t"): Promise<NatsFixture> {
  const natsUrl = testNatsUrl();
  const ns = uniqueName(prefix);
  const topo = new Topology(ns);
  const nc = await connectNats({ url: natsUrl, name: `test-${ns}` });
  await ensureTopology(nc, topo, opts);
  return {
    ns,
    topo,
    nc,
    natsUrl,
    async cleanup() {
      await destroyTopology(nc, topo).catch(() => undefined);
      await nc.close();
    },
  };
}

export interface DbFixture {
  url: string;
  pool: Pool;
  cleanup(): Promise<void>;
}

/** A fresh, migrated database that is dropped afterwards. */
export async function dbFixture(): Promise<DbFixture> {
  const url = testDatabaseUrl();
  const pool = await connectPostgres({ url, createDatabase: true, max: 5 });
  await migrate(pool);
  return {
    url,
    pool,
    async cleanup() {
      await pool.end();
      await dropDatabase(url).catch(() => undefined);
    },
  };
}

/**
 * Re-checks a condition until it holds. This waits on an observable fact, not
 * on time; the deadline only bounds a failing test.
 */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${opts.what ?? "condition"}${last ? `: ${(last as Error).message}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

/**
 * Counts event-loop turns until stopped: work that yields between slices lets
 * turns happen while it runs; work done in one synchronous go allows none.
 */
export function turnCounter(): { stop(): number } {
  let turns = 0;
  let ticking = true;
  const tick = () => {
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      ticking = false;
      return turns;
    },
  };
}
