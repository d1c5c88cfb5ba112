// A throwaway Millrace stack for the API benchmarks: the five services as
// separate processes (`node --import tsx services/<name>/src/main.ts`, as
// test/harness.ts does), in a fresh MILLRACE_NAMESPACE and database, against
// the machine's nats-server and Postgres. stop() kills them and removes the
// database and the namespace's streams.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "nats";
import { destroyTopology, dropDatabase, freePort, reachable, signHs256Token, Topology } from "@millrace/runtime";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export type ServiceName = "status" | "gateway" | "trainer" | "predictor" | "scheduler";



async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 90_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface BenchStack {
  url: string;
  ns: string;
  databaseUrl: string;
  natsUrl: string;
  tenant: string;
  logs: Map<string, string[]>;
  /** Process id of each service instance ("trainer-1", "gateway", …). */
  pids: Map<string, number>;
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<{ status: number; body: any; ms: number; bytes: number }>;
  /** Polls a task until it is terminal. */
  task(taskId: string, timeoutMs?: number, everyMs?: number): Promise<any>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Instances per service (default one each). */
  instances?: Partial<Record<ServiceName, number>>;
  env?: Record<string, string>;
  perService?: Partial<Record<ServiceName, Record<string, string>>>;
  logLevel?: string;
}

export async function startBenchStack(opts: StackOptions = {}): Promise<BenchStack> {
  const ns = `b${randomBytes(4).toString("hex")}`;
  const natsUrl = process.env.MILLRACE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
  const pgBase = new URL(process.env.MILLRACE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
  pgBase.pathname = `/mr_bench_${ns}`;
  const databaseUrl = pgBase.toString();
  const secret = `bench-${randomBytes(8).toString("hex")}`;
  const [port, statusGrpc, predictorGrpc, schedulerGrpc] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const env: Record<string, string> = {
    NATS_URL: natsUrl,
    DATABASE_URL: databaseUrl,
    MILLRACE_NAMESPACE: ns,
    JWT_SECRET: secret,
    LOG_LEVEL: opts.logLevel ?? "warn",
    STATUS_GRPC_ADDR: `127.0.0.1:${statusGrpc}`,
    STATUS_LISTEN: `127.0.0.1:${statusGrpc}`,
    PREDICTOR_GRPC_ADDR: `127.0.0.1:${predictorGrpc}`,
    PREDICTOR_LISTEN: `127.0.0.1:${predictorGrpc}`,
    SCHEDULER_GRPC_ADDR: `127.0.0.1:${schedulerGrpc}`,
    SCHEDULER_LISTEN: `127.0.0.1:${schedulerGrpc}`,
    HEALTH_PORT: "0",
    PORT: String(port),
    ...opts.env,
  };
  const url = `http://127.0.0.1:${port}`;
  const tenant = "bench";
  const token = signHs256Token(secret, { sub: `user-${tenant}`, tenant, exp: Math.floor(Date.now() / 1000) + 6 * 3600 });

  const procs: ChildProcess[] = [];
  const logs = new Map<string, string[]>();
  const pids = new Map<string, number>();
  const start = (name: ServiceName, instance: string) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "services", name, "src", "main.ts")], {
      cwd: root,
      env: { ...process.env, ...env, ...(opts.perService?.[name] ?? {}), WORKER_ID: `${instance}-${ns}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const buf: string[] = [];
    logs.set(instance, buf);
    child.stdout?.on("data", (d) => buf.push(String(d)));
    child.stderr?.on("data", (d) => buf.push(String(d)));
    procs.push(child);
    if (child.pid) pids.set(instance, child.pid);
  };
  const count = (n: ServiceName) => opts.instances?.[n] ?? 1;

  const stack: BenchStack = {
    url,
    ns,
    databaseUrl,
    natsUrl,
    tenant,
    logs,
    pids,
    async api(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      let reqBody = init.body;
      if (init.json !== undefined) {
        headers.set("content-type", "application/json");
        reqBody = JSON.stringify(init.json);
      } else if (typeof reqBody === "string" && !headers.has("content-type")) {
        headers.set("content-type", "application/json");
      }
      const t0 = performance.now();
      const res = await fetch(url + path, { ...init, headers, body: reqBody });
      const text = await res.text();
      const ms = performance.now() - t0;
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, ms, bytes: text.length };
    },
    async task(taskId, timeoutMs = 600_000, everyMs = 100) {
      return until(
        `task ${taskId}`,
        async () => {
          const r = await stack.api(`/v1/tasks/${taskId}`);
          return r.status === 200 && ["SUCCESS", "FAILURE", "REVOKED"].includes(r.body.state) ? r.body : undefined;
        },
        timeoutMs,
        everyMs,
      );
    },
    async stop() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise((r) => {
              if (p.exitCode !== null || p.signalCode) return r(null);
              p.once("exit", r);
              p.kill("SIGKILL");
            }),
        ),
      );
      await dropDatabase(databaseUrl).catch(() => undefined);
      const nc = await connect({ servers: natsUrl }).catch(() => undefined);
      if (nc) {
        await destroyTopology(nc, new Topology(ns)).catch(() => undefined);
        await nc.close();
      }
    },
  };

  try {
    start("status", "status");
    await until("status service", () => reachable("127.0.0.1", statusGrpc), 60_000);
    for (const name of ["predictor", "trainer", "scheduler", "gateway"] as ServiceName[]) {
      for (let i = 0; i < count(name); i++) start(name, count(name) > 1 ? `${name}-${i + 1}` : name);
    }
    await until("gateway ready", async () => (await fetch(`${url}/readyz`)).ok, 90_000);
    // The predictor serves the registry: wait until it answers.
    await until("predictor", async () => (await stack.api("/v1/models")).status === 200, 60_000);
  } catch (err) {
    const tail = [...logs].map(([k, v]) => `--- ${k}\n${v.join("").slice(-1500)}`).join("\n");
    await stack.stop();
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
  return stack;
}

/** Stops the stack on Ctrl-C too. */
export function stopOnSignals(stack: BenchStack): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      void stack.stop().finally(() => process.exit(130));
    });
  }
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of every process whose command name is `comm` (e.g. postgres, nats-server). */
export function cpuSecondsByName(comm: string): number {
  let total = 0;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").trim() === comm) total += cpuSeconds(Number(d));
    } catch {
      /* exited */
    }
  }
  return total;
}

/** CPU seconds per service instance plus Postgres and NATS, for a before/after diff. */
export function cpuSnapshot(stack: BenchStack): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of stack.pids) out[name] = cpuSeconds(pid);
  out.postgres = cpuSecondsByName("postgres");
  out["nats-server"] = cpuSecondsByName("nats-server");
  return out;
}

export function cpuDiff(before: Record<string, number>, after: Record<string, number>): string {
  return Object.keys(after)
    .map((k) => [k, after[k] - (before[k] ?? 0)] as const)
    .filter(([, v]) => v >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(", ");
}
