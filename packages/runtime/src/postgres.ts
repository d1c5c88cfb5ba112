import { readFileSync, readdirSync } from "node:fs";
import pg from "pg";
import type { Logger } from "pino";
import { DependencyUnavailableError } from "./errors";
import { redactUrl } from "./logger";

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

const MIGRATIONS_DIR = new URL("../migrations/", import.meta.url);

// Postgres int8 comes back as a string by default; our counters fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

/** Runs `fn` in one transaction: either every row is stored or none is. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const out = await fn(client);
    await client.query("commit");
    return out;
  } catch (err) {
    await client.query("rollback").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export interface PostgresOptions {
  url: string;
  max?: number;
  logger?: Logger;
  /** Create the database when it does not exist (local runs, tests). */
  createDatabase?: boolean;
  connectTimeoutMs?: number;
}

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, "")) || "postgres";
}

function maintenanceUrl(url: string): string {
  const u = new URL(url);
  u.pathname = "/postgres";
  return u.toString();
}

/** Creates the database named in `url` if it is missing. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: maintenanceUrl(url) });
  await client.connect();
  try {
    const r = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (r.rowCount) return false;
    try {
      await client.query(`create database "${name.replace(/"/g, '""')}"`);
    } catch (err) {
      // Two services racing to create it: the loser sees duplicate_database.
      if ((err as { code?: string }).code !== "42P04") throw err;
    }
    return true;
  } finally {
    await client.end();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: maintenanceUrl(url) });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name.replace(/"/g, '""')}" with (force)`);
  } finally {
    await client.end();
  }
}

/** Opens a pool, retrying the first connection until connectTimeoutMs. */
export async function connectPostgres(opts: PostgresOptions): Promise<Pool> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 30_000);
  let lastErr: unknown;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      if (opts.createDatabase) await ensureDatabase(opts.url);
      const pool = new pg.Pool({ connectionString: opts.url, max: opts.max ?? 10, connectionTimeoutMillis: 5_000 });
      // An idle client losing its socket must not crash the process.
      pool.on("error", (err) => opts.logger?.warn({ err: err.message }, "postgres idle client error"));
      await pool.query("select 1");
      opts.logger?.info({ database_url: redactUrl(opts.url) }, "connected to postgres");
      return pool;
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }
  throw new DependencyUnavailableError(`cannot reach Postgres at ${redactUrl(opts.url)}`, { cause: lastErr });
}

/**
 * Applies migrations/*.sql in name order, each once, under an advisory lock so
 * services starting together do not race.
 */
export async function migrate(pool: Pool, logger?: Logger): Promise<string[]> {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query("select pg_advisory_lock(727274)");
    await client.query("create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())");
    const done = new Set((await client.query("select name from schema_migrations")).rows.map((r) => r.name as string));
    for (const f of files) {
      if (done.has(f)) continue;
      const sql = readFileSync(new URL(f, MIGRATIONS_DIR), "utf8");
      await client.query("begin");
      try {
        await client.query(sql);
        await client.query("insert into schema_migrations (name) values ($1)", [f]);
        await client.query("commit");
      } catch (err) {
        await client.query("rollback");
        throw err;
      }
      applied.push(f);
      logger?.info({ migration: f }, "applied migration");
    }
  } finally {
    await client.query("select pg_advisory_unlock(727274)").catch(() => undefined);
    client.release();
  }
  return applied;
}
