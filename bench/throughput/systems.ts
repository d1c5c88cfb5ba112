// The four systems under test: how to start each one, what to submit, how to
// read a task's state, and how to stop it.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, reachable, signHs256Token } from "@millrace/runtime";
import type { PollSpec, SubmitSpec } from "./driver";
import { httpStatus, spawnGroup, startPostgres, startRedis, stopGroup, waitUntil, type Group } from "./procs";

export interface Ctx {
  /** The workspace root, /work/main. */
  root: string;
  /** bench/throughput. */
  benchDir: string;
  /** Where child process logs go (bench/results/logs). */
  logDir: string;
  /** Bound on every wait and task poll of a set-up step. */
  timeoutMs: number;
}

export interface Running {
  origin: string;
  submit: SubmitSpec;
  poll?: PollSpec;
  /** Process groups whose CPU counts as the system's. */
  groups: Group[];
  /** Shared daemons the system uses, by process name, whose CPU counts too. */
  sharedComms?: string[];
  stop(): Promise<void>;
}

export interface SystemDef {
  key: string;
  label: string;
  start(ctx: Ctx): Promise<Running>;
}

/** Debian's interpreter: `python3` on PATH may be a pyenv build without celery/flask. */
const PYTHON = "/usr/bin/python3";
const JSON_HEADERS = { "content-type": "application/json" };
const PAYLOAD = JSON.stringify({ features: [1, 2, 3, 4] });

const stateOf = (json: unknown): string | undefined => {
  const j = json as { state?: unknown; task?: { state?: unknown } } | null;
  const s = j?.state ?? j?.task?.state;
  return typeof s === "string" ? s : undefined;
};
const taskIdOf = (json: unknown): string => {
  const j = json as { task_id?: unknown; id?: unknown } | null;
  const id = j?.task_id ?? j?.id;
  if (typeof id !== "string" && typeof id !== "number") throw new Error(`no task_id in ${JSON.stringify(json)}`);
  return String(id);
};
const terminalIn =
  (...names: string[]) =>
  (json: unknown): string | undefined => {
    const s = stateOf(json);
    return s !== undefined && names.includes(s) ? s : undefined;
  };

async function stopAll(groups: Group[]): Promise<void> {
  // Front first, then workers, then the broker, so nothing logs a lost connection in a hurry.
  for (const g of groups) await stopGroup(g);
}

/** Runs a TypeScript peer under tsx from the workspace root (where tsx is installed). */
function spawnTsPeer(name: string, file: string, env: Record<string, string>, ctx: Ctx): Group {
  return spawnGroup(name, process.execPath, ["--import", "tsx", join(ctx.benchDir, file)], {
    cwd: ctx.root,
    env: { NODE_ENV: "production", ...env },
    logDir: ctx.logDir,
  });
}

export const celery: SystemDef = {
  key: "celery",
  label: "seeds' stack (Flask+gunicorn+Celery+Redis)",
  async start(ctx) {
    const redis = await startRedis("celery-redis", ctx.logDir, ctx.benchDir);
    const port = await freePort();
    const cwd = join(ctx.benchDir, "celery_peer");
    const env = { REDIS_URL: `redis://127.0.0.1:${redis.port}`, PYTHONDONTWRITEBYTECODE: "1" };
    // Two web processes and two prefork children: one per core, as the seeds deploy it.
    const web = spawnGroup(
      "celery-gunicorn",
      PYTHON,
      ["-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8", "-b", `127.0.0.1:${port}`, "--log-level", "warning", "app:api"],
      { cwd, env, logDir: ctx.logDir },
    );
    // WARNING, not the seeds' INFO: INFO logs two lines per task, which would measure logging.
    const worker = spawnGroup(
      "celery-worker",
      PYTHON,
      ["-m", "celery", "-A", "tasks", "worker", "--concurrency", "2", "-P", "prefork", "--loglevel", "WARNING", "-n", `bench${port}@%h`],
      { cwd, env, logDir: ctx.logDir },
    );
    const groups = [web, worker, redis.group];
    const origin = `http://127.0.0.1:${port}`;
    try {
      await waitUntil("gunicorn", async () => (await httpStatus(`${origin}/healthz`)) === 200, ctx.timeoutMs, groups);
      // The worker announces itself on stdout/stderr as "celery@... ready." only at INFO;
      // the warm-up round waits for it by polling its tasks to SUCCESS instead.
    } catch (err) {
      await stopAll(groups);
      throw err;
    }
    return {
      origin,
      submit: { path: "/predict/async", headers: JSON_HEADERS, body: PAYLOAD, taskId: taskIdOf },
      poll: { path: (id) => `/task/${id}`, headers: {}, terminal: terminalIn("SUCCESS", "FAILURE", "REVOKED") },
      groups,
      stop: () => stopAll(groups),
    };
  },
};

/** Hono + BullMQ with its worker in the same process; `aof` makes its Redis durable (see startRedis). */
function bullmqPeer(key: string, label: string, aof?: "always" | "everysec"): SystemDef {
  return {
    key,
    label,
    async start(ctx) {
      const redis = await startRedis(`${key}-redis`, ctx.logDir, ctx.benchDir, aof);
      const port = await freePort();
      const app = spawnTsPeer(`${key}-peer`, "bullmq_peer.ts", { PORT: String(port), REDIS_PORT: String(redis.port) }, ctx);
      const groups = [app, redis.group];
      const stop = async () => {
        await stopGroup(app);
        await redis.stop();
      };
      const origin = `http://127.0.0.1:${port}`;
      try {
        await waitUntil("bullmq peer", async () => (await httpStatus(`${origin}/healthz`)) === 200, ctx.timeoutMs, groups);
      } catch (err) {
        await stop();
        throw err;
      }
      return {
        origin,
        submit: { path: "/predict/async", headers: JSON_HEADERS, body: PAYLOAD, taskId: taskIdOf },
        poll: { path: (id) => `/tasks/${id}`, headers: {}, terminal: terminalIn("completed", "failed") },
        groups,
        stop,
      };
    },
  };
}

export const bullmq = bullmqPeer("bullmq", "Hono + BullMQ (worker in-process)");
// Not in the default set: the target is against the peer as the issue gives it (no persistence).
// These show what the same peer costs with the durability a 202 from Millrace carries.
export const bullmqAof = bullmqPeer("bullmq-aof", "Hono + BullMQ, Redis AOF fsync always", "always");
export const bullmqAofSec = bullmqPeer("bullmq-aof-sec", "Hono + BullMQ, Redis AOF fsync everysec", "everysec");

export const bare: SystemDef = {
  key: "bare",
  label: "bare Hono 202 (does nothing)",
  async start(ctx) {
    const port = await freePort();
    const app = spawnTsPeer("bare-peer", "bare_peer.ts", { PORT: String(port) }, ctx);
    const origin = `http://127.0.0.1:${port}`;
    try {
      await waitUntil("bare peer", async () => (await httpStatus(`${origin}/healthz`)) === 200, ctx.timeoutMs, [app]);
    } catch (err) {
      await stopGroup(app);
      throw err;
    }
    return {
      origin,
      submit: { path: "/predict/async", headers: JSON_HEADERS, body: PAYLOAD, taskId: taskIdOf },
      groups: [app],
      stop: () => stopGroup(app),
    };
  },
};

/** 200 rows of y = 2*x1 - x2 + noise, deterministic. */
function trainingCsv(rows = 200): string {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const lines = ["x1,x2,y"];
  for (let i = 0; i < rows; i++) {
    const x1 = +(rnd() * 10).toFixed(3);
    const x2 = +(rnd() * 10).toFixed(3);
    const y = +(2 * x1 - x2 + (rnd() - 0.5) * 0.2).toFixed(3);
    lines.push(`${x1},${x2},${y}`);
  }
  return lines.join("\n") + "\n";
}

const hasPsql = () => existsSync("/usr/bin/psql");
function psql(sql: string): void {
  // Best effort: the stack may create the database itself; dropping is clean-up only.
  if (!hasPsql()) return;
  spawnSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql], {
    stdio: "ignore",
    timeout: 15_000,
  });
}

export const millrace: SystemDef = {
  key: "millrace",
  label: "Millrace",
  async start(ctx) {
    // The workspace's own tsx, not `pnpm stack`: pnpm is often not on PATH (corepack fails on
    // this kind of machine; it is reached through npx), and a wrapper would only add a process.
    const command = process.env.MILLRACE_START ?? `exec ./node_modules/.bin/tsx scripts/stack.ts`;
    const suffix = randomBytes(4).toString("hex");
    const db = `mr_bench_${suffix}`;
    const port = await freePort();
    const secret = "bench-secret";
    const env: Record<string, string> = {
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      MILLRACE_NAMESPACE: `bench${suffix}`,
      PORT: String(port),
      JWT_SECRET: secret,
      LOG_LEVEL: "warn",
      // Spare gRPC ports, in case another stack runs on the defaults.
      STATUS_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
      PREDICTOR_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
      SCHEDULER_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
    };
    // A private JetStream server, like the peers' private Redis: nothing else's traffic on it,
    // it runs at the bench's priority, its CPU is counted, and its streams go away with it.
    // NATS_URL in the environment selects an existing server instead.
    let nats: { group: Group; stop(): Promise<void> } | undefined;
    if (process.env.NATS_URL) env.NATS_URL = process.env.NATS_URL;
    else {
      const natsPort = await freePort();
      const dir = mkdtempSync(join(tmpdir(), "mr-bench-nats-"));
      const group = spawnGroup("millrace-nats", "nats-server", ["-a", "127.0.0.1", "-p", String(natsPort), "-js", "-sd", dir], {
        cwd: ctx.root,
        logDir: ctx.logDir,
      });
      nats = {
        group,
        async stop() {
          await stopGroup(group);
          rmSync(dir, { recursive: true, force: true });
        },
      };
      env.NATS_URL = `nats://127.0.0.1:${natsPort}`;
      try {
        await waitUntil("private nats-server", () => reachable("127.0.0.1", natsPort), 10_000, [group]);
      } catch (err) {
        await nats.stop();
        throw err;
      }
    }
    // A private Postgres too (see startPostgres), unless DATABASE_URL names one.
    let pg: Awaited<ReturnType<typeof startPostgres>> | undefined;
    if (process.env.DATABASE_URL) env.DATABASE_URL = process.env.DATABASE_URL;
    else if (!process.env.MILLRACE_BENCH_SHARED_PG) {
      try {
        pg = await startPostgres("millrace-postgres", ctx.logDir, ctx.root);
      } catch (err) {
        await nats?.stop();
        throw err;
      }
      // The stack creates the database on its first connection.
      env.DATABASE_URL = `postgres://postgres@127.0.0.1:${pg.port}/${db}`;
    }
    // The machine's shared Postgres (MILLRACE_BENCH_SHARED_PG): a database of our own on it.
    const sharedDb = !pg && !process.env.DATABASE_URL;
    if (sharedDb) psql(`create database "${db}"`);
    const stack = spawnGroup("millrace-stack", "bash", ["-c", command], { cwd: ctx.root, env, logDir: ctx.logDir });
    const stop = async () => {
      await stopGroup(stack, 10_000);
      await nats?.stop();
      await pg?.stop();
      if (sharedDb) psql(`drop database if exists "${db}" with (force)`);
    };
    const origin = `http://127.0.0.1:${port}`;
    const token = signHs256Token(secret, { sub: "bench", tenant: "bench", exp: Math.floor(Date.now() / 1000) + 3600 });
    const auth = { authorization: `Bearer ${token}` };
    const headers = { ...auth, ...JSON_HEADERS };
    try {
      await waitUntil("millrace /readyz", async () => (await httpStatus(`${origin}/readyz`)) === 200, 60_000, [stack]);
      await trainBenchModel(origin, auth, headers, ctx.timeoutMs);
    } catch (err) {
      await stop();
      throw err;
    }
    return {
      origin,
      submit: {
        path: "/v1/predict/async",
        headers,
        body: JSON.stringify({ model: "bench", instances: [{ x1: 1, x2: 2 }] }),
        taskId: taskIdOf,
      },
      poll: { path: (id) => `/v1/tasks/${id}`, headers: auth, terminal: terminalIn("SUCCESS", "FAILURE", "REVOKED") },
      groups: [stack, ...(nats ? [nats.group] : []), ...(pg ? [pg.group] : [])],
      // Shared NATS or Postgres, when used: part of Millrace's cost, though others' tests may use them too.
      sharedComms: [...(nats ? [] : ["nats-server"]), ...(pg ? [] : ["postgres"])],
      stop,
    };
  },
};

/** Uploads the CSV, trains model "bench" and waits for SUCCESS, so the load predicts with a real model. */
async function trainBenchModel(
  origin: string,
  auth: Record<string, string>,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  const call = async (method: string, path: string, body?: string, h = headers): Promise<unknown> => {
    const res = await fetch(origin + path, { method, headers: h, body, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : {};
  };
  const ds = (await call("POST", "/v1/datasets?name=bench", trainingCsv(), { ...auth, "content-type": "text/csv" })) as {
    dataset_id?: string;
    id?: string;
    dataset?: { id?: string };
  };
  const datasetId = ds.dataset_id ?? ds.id ?? ds.dataset?.id;
  if (!datasetId) throw new Error(`dataset upload answered without an id: ${JSON.stringify(ds)}`);
  const train = await call(
    "POST",
    "/v1/train",
    JSON.stringify({ dataset_id: datasetId, target: "y", model: { type: "linear_regression" }, name: "bench" }),
  );
  const taskId = taskIdOf(train);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = stateOf(await call("GET", `/v1/tasks/${taskId}`, undefined, auth));
    if (state === "SUCCESS") return;
    if (state === "FAILURE" || state === "REVOKED") throw new Error(`training task ${taskId} ended ${state}`);
    if (Date.now() > deadline) throw new Error(`training task ${taskId} still ${state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const SYSTEMS: SystemDef[] = [celery, bullmq, bullmqAof, bullmqAofSec, bare, millrace];
